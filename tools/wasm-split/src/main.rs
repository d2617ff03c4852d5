//! `bazaar-wasm-split INPUT.wasm OUT_DIR MAIN_OUT.wasm OUTPUT_NAME`
//!
//! Splits a wasm module linked with `--emit-relocs` at its `#[lazy]` split points, the way
//! `cargo leptos build --split` does, into:
//! - `MAIN_OUT.wasm`: the main module, for wasm-bindgen (`--keep-lld-exports --no-demangle`);
//! - `OUT_DIR/split_*.wasm`, `OUT_DIR/chunk_*.wasm`: the lazily loaded modules;
//! - `OUT_DIR/__wasm_split.______________________.js`: their loader, imported by the main
//!   module's JavaScript (`./OUTPUT_NAME.js`), under the name Leptos' `HydrationScripts` preloads;
//! - `OUT_DIR/__wasm_split_manifest.json`: which files each split point needs, which Leptos
//!   reads to preload a lazy page's chunks when it renders that page.
use std::path::Path;
use std::process::ExitCode;

/// The loader's file name Leptos expects when file names are not hashed (the directory is).
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST_NAME: &str = "__wasm_split_manifest.json";

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
        serde_json::to_string_pretty(&split.prefetch_map)?,
    )?;
    for module in &split.split_modules {
        println!("{}", module.display());
    }
    Ok(())
}
