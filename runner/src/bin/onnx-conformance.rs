//! ONNX conformance harness for Bazaar's runner.
//!
//! Usage: onnx-conformance [--backend cpu|wgpu|both] [--json FILE]
//!        [--allow-list FILE] [--write-allow-list FILE] [--filter TEXT]
//!        [--verbose] DIR...
//!
//! The last line printed is always
//! `conformance: cpu P/N passed, wgpu P/N passed`, N being the number of
//! cases found (unsupported and not-run count as not passed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use runner::backend::Backend;
use runner::conformance::{discover, read_allow_list, run_case_counting, Case, Status};
use runner::cpu::CpuBackend;

const BACKENDS: [&str; 2] = ["cpu", "wgpu"];

fn make_backend(name: &str) -> Result<Box<dyn Backend>, String> {
    match name {
        "cpu" => Ok(Box::new(CpuBackend::new())),
        #[cfg(feature = "wgpu")]
        "wgpu" => runner::gpu::GpuBackend::new()
            .map(|b| Box::new(b) as Box<dyn Backend>)
            .map_err(|e| e.to_string()),
        other => Err(format!("backend `{other}` is not available in this build")),
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

struct Args {
    backends: Vec<&'static str>,
    json: Option<PathBuf>,
    allow: Option<PathBuf>,
    write_allow: Option<PathBuf>,
    filter: Option<String>,
    verbose: bool,
    dirs: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        backends: BACKENDS.to_vec(),
        json: None,
        allow: None,
        write_allow: None,
        filter: None,
        verbose: false,
        dirs: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |what: &str| it.next().ok_or_else(|| format!("{what} needs a value"));
        match arg.as_str() {
            "--backend" => {
                a.backends = match val("--backend")?.as_str() {
                    "cpu" => vec!["cpu"],
                    "wgpu" => vec!["wgpu"],
                    "both" => BACKENDS.to_vec(),
                    o => return Err(format!("unknown backend `{o}`")),
                }
            }
            "--json" => a.json = Some(val("--json")?.into()),
            "--allow-list" => a.allow = Some(val("--allow-list")?.into()),
            "--write-allow-list" => a.write_allow = Some(val("--write-allow-list")?.into()),
            "--filter" => a.filter = Some(val("--filter")?),
            "--verbose" | "-v" => a.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            d => a.dirs.push(d.into()),
        }
    }
    if a.dirs.is_empty() {
        return Err("no test directories given".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: onnx-conformance [--backend cpu|wgpu|both] [--json FILE] [--allow-list FILE] [--write-allow-list FILE] [--filter TEXT] [--verbose] DIR...");
            return ExitCode::from(2);
        }
    };
    // Allow-list lines: `suite/test_name backend...`.
    let allow: Option<BTreeMap<String, Vec<String>>> = match &args.allow {
        None => None,
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(
                read_allow_list(&t)
                    .into_iter()
                    .map(|l| {
                        let mut w = l.split_whitespace().map(str::to_string);
                        (w.next().unwrap_or_default(), w.collect())
                    })
                    .collect(),
            ),
            Err(e) => {
                eprintln!("cannot read {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    let mut cases: Vec<Case> = args.dirs.iter().flat_map(|d| discover(d)).collect();
    if let Some(f) = &args.filter {
        cases.retain(|c| c.name.contains(f.as_str()));
    }
    if let Some(al) = &allow {
        cases.retain(|c| al.contains_key(&c.name));
    }
    let n = cases.len();
    let mut results: Vec<BTreeMap<&str, Status>> = vec![BTreeMap::new(); n];
    // Float32 nodes a backend handed to the CPU, per case.
    let mut fallbacks: Vec<BTreeMap<&str, usize>> = vec![BTreeMap::new(); n];
    for &b in &args.backends {
        let mut backend = match make_backend(b) {
            Ok(be) => be,
            Err(e) => {
                eprintln!("{b}: {e}; its cases count as unsupported");
                for r in results.iter_mut() {
                    r.insert(b, Status::Unsupported(e.clone()));
                }
                continue;
            }
        };
        for ((c, r), fb) in cases
            .iter()
            .zip(results.iter_mut())
            .zip(fallbacks.iter_mut())
        {
            let (s, f) = run_case_counting(backend.as_mut(), c);
            fb.insert(b, f);
            if args.verbose && s != Status::Pass {
                eprintln!("{b} {} {}: {}", c.name, s.label(), s.detail());
            }
            r.insert(b, s);
        }
    }

    // Per-operator table.
    #[derive(Default)]
    struct Row {
        cases: usize,
        in_scope: usize,
        counts: BTreeMap<&'static str, [usize; 3]>,
        scoped_pass: BTreeMap<&'static str, usize>,
        native_pass: BTreeMap<&'static str, usize>,
    }
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for ((c, r), fb) in cases.iter().zip(&results).zip(&fallbacks) {
        let row = rows.entry(c.op.as_str()).or_default();
        row.cases += 1;
        row.in_scope += c.in_scope as usize;
        for &b in &BACKENDS {
            let k = match r.get(b) {
                Some(Status::Pass) => 0,
                Some(Status::Fail(_)) => 1,
                _ => 2,
            };
            row.counts.entry(b).or_default()[k] += 1;
            if k == 0 && fb.get(b).copied().unwrap_or(0) == 0 {
                *row.native_pass.entry(b).or_default() += 1;
            }
            if k == 0 && c.in_scope {
                *row.scoped_pass.entry(b).or_default() += 1;
            }
        }
    }
    println!(
        "{:<28} {:>5} {:>4} | {:>16} | {:>17} {:>6} | green",
        "operator", "cases", "f32", "cpu pass/fail/un", "wgpu pass/fail/un", "on-gpu"
    );
    let mut green: BTreeMap<&str, usize> = BTreeMap::new();
    for (op, row) in &rows {
        let mut g = Vec::new();
        for &b in &BACKENDS {
            if row.in_scope > 0
                && row.scoped_pass.get(b).copied().unwrap_or(0) == row.in_scope
                && !op.starts_with('(')
            {
                *green.entry(b).or_default() += 1;
                g.push(b);
            }
        }
        let f = |b: &str| {
            if !args.backends.contains(&b) {
                return "-".to_string();
            }
            let c = row.counts.get(b).copied().unwrap_or_default();
            format!("{}/{}/{}", c[0], c[1], c[2])
        };
        println!(
            "{op:<28} {:>5} {:>4} | {:>16} | {:>17} {:>6} | {}",
            row.cases,
            row.in_scope,
            f("cpu"),
            f("wgpu"),
            row.native_pass.get("wgpu").copied().unwrap_or(0),
            g.join(",")
        );
    }
    let passed = |b: &str| {
        results
            .iter()
            .filter(|r| r.get(b) == Some(&Status::Pass))
            .count()
    };
    for &b in &BACKENDS {
        println!(
            "{b}: {} operators fully green on their float32 cases",
            green.get(b).copied().unwrap_or(0)
        );
    }
    // "on-gpu": passing wgpu cases whose float32 nodes all ran on the GPU.
    let on_gpu = cases
        .iter()
        .zip(&results)
        .zip(&fallbacks)
        .filter(|((_, r), fb)| r.get("wgpu") == Some(&Status::Pass) && fb.get("wgpu") == Some(&0))
        .count();
    println!("wgpu: {on_gpu} passing cases ran every float32 node on the GPU");

    if let Some(p) = &args.json {
        let mut s = String::from("{\"rtol\":1e-3,\"atol\":1e-7,\"cases\":[\n");
        for (i, ((c, r), fb)) in cases.iter().zip(&results).zip(&fallbacks).enumerate() {
            let _ = write!(
                s,
                "{{\"name\":{},\"op\":{},\"float32\":{}",
                json_str(&c.name),
                json_str(&c.op),
                c.in_scope
            );
            for &b in &BACKENDS {
                match r.get(b) {
                    Some(st) => {
                        let _ = write!(
                            s,
                            ",{}:{{\"status\":\"{}\",\"detail\":{},\"cpu_fallback_nodes\":{}}}",
                            json_str(b),
                            st.label(),
                            json_str(st.detail()),
                            fb.get(b).copied().unwrap_or(0)
                        );
                    }
                    None => {
                        let _ = write!(s, ",{}:{{\"status\":\"not-run\"}}", json_str(b));
                    }
                }
            }
            s.push('}');
            s.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        s.push_str("]}\n");
        if let Err(e) = std::fs::write(p, s) {
            eprintln!("cannot write {}: {e}", p.display());
        }
    }
    if let Some(p) = &args.write_allow {
        let mut s = String::from("# Cases that must pass, with the backends they must pass on.\n");
        for (c, r) in cases.iter().zip(&results) {
            let ok: Vec<&str> = BACKENDS
                .iter()
                .copied()
                .filter(|b| r.get(b) == Some(&Status::Pass))
                .collect();
            if !ok.is_empty() {
                let _ = writeln!(s, "{} {}", c.name, ok.join(" "));
            }
        }
        if let Err(e) = std::fs::write(p, s) {
            eprintln!("cannot write {}: {e}", p.display());
        }
    }
    let mut code = ExitCode::SUCCESS;
    if let Some(al) = &allow {
        let mut regressions = 0;
        for (name, bs) in al {
            let idx = cases.iter().position(|c| &c.name == name);
            for b in bs.iter().filter(|b| args.backends.contains(&b.as_str())) {
                let st = idx.and_then(|i| results[i].get(b.as_str()));
                if st != Some(&Status::Pass) {
                    regressions += 1;
                    eprintln!(
                        "REGRESSION {b} {name}: {}",
                        st.map_or("case not found", |s| s.detail())
                    );
                }
            }
        }
        if regressions > 0 {
            eprintln!("{regressions} allow-listed case(s) did not pass");
            code = ExitCode::FAILURE;
        }
    }
    println!(
        "conformance: cpu {}/{n} passed, wgpu {}/{n} passed",
        passed("cpu"),
        passed("wgpu")
    );
    code
}
