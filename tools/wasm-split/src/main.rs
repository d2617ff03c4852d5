//! `bazaar-wasm-split INPUT.wasm OUT_DIR MAIN_OUT.wasm OUTPUT_NAME`
//!
//! Splits a wasm module linked with `--emit-relocs` at its `#[lazy]` split points, the way
//! `cargo leptos build --split` does, into:
//! - `MAIN_OUT.wasm`: the main module, for wasm-bindgen (`--keep-lld-exports --no-demangle`);
//! - `OUT_DIR/split_*.wasm`, `OUT_DIR/chunk_*.wasm`: the lazily loaded modules;
//! - `OUT_DIR/__wasm_split.______________________.js`: their loader, imported by the main
//!   module's JavaScript (`./OUTPUT_NAME.js`), under the name Leptos' `HydrationScripts` preloads;
//! - `OUT_DIR/lazy_modules.json`: the loader's name and, per group of pages (the `#[lazy]`
//!   name), the wasm files it needs; the server names them in `<link rel="preload">`s when it
//!   renders a page of the group (app/src/lazy_pages.rs). Not Leptos' own manifest, whose
//!   keys carry a hash of the source location and whose preloading, done after the page's
//!   render outside the page's reactive owner, does not reliably find it.
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

/// The loader's file name Leptos expects when file names are not hashed (the directory is).
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST_NAME: &str = "lazy_modules.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, main_out, output_name] = args.as_slice() else {
        eprintln!("usage: bazaar-wasm-split INPUT.wasm OUT_DIR MAIN_OUT.wasm OUTPUT_NAME");
        return ExitCode::from(2);
    };
    match split(
        Path::new(input),
        Path::new(out_dir),
        Path::new(main_out),
        output_name,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bazaar-wasm-split: {err:?}");
            ExitCode::FAILURE
        }
    }
}

fn split(
    input: &Path,
    out_dir: &Path,
    main_out: &Path,
    output_name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let input_wasm = std::fs::read(input)?;
    let main_module = format!("./{output_name}.js");
    let mut opts = wasm_split_cli_support::Options::new(&input_wasm);
    opts.output_dir = out_dir;
    opts.main_out_path = main_out;
    opts.main_module = &main_module;
    opts.link_name = LINK_NAME;
    let split = wasm_split_cli_support::transform(opts).map_err(|err| format!("{err:?}"))?;
    std::fs::write(
        out_dir.join(MANIFEST_NAME),
        serde_json::to_string_pretty(&manifest(&split.prefetch_map)?)?,
    )?;
    for module in &split.split_modules {
        println!("{}", module.display());
    }
    Ok(())
}

/// `{"loader": …, "groups": {group: [file.wasm, …]}}` from the splitter's map of split point
/// (`<group>_<hash of its source location>`) to module names.
fn manifest(prefetch_map: &HashMap<String, Vec<String>>) -> Result<serde_json::Value, String> {
    let mut groups = serde_json::Map::new();
    // Sorted, so the same build writes the same file (the bundle directory is its hash).
    let mut split_points: Vec<_> = prefetch_map.iter().collect();
    split_points.sort();
    for (split_point, modules) in split_points {
        let group = split_point
            .rsplit_once('_')
            .filter(|(_, hash)| !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_digit()))
            .map(|(group, _)| group)
            .ok_or_else(|| format!("split point {split_point} is not <group>_<hash>"))?;
        let files: Vec<String> = modules.iter().map(|m| format!("{m}.wasm")).collect();
        if groups.insert(group.to_owned(), files.into()).is_some() {
            return Err(format!("two split points are named {group}"));
        }
    }
    Ok(serde_json::json!({
        "loader": LINK_NAME.trim_start_matches("./"),
        "groups": groups,
    }))
}
