//! A small driver for the registry crate, used by the benchmark scripts in `bench/` (the `dinhdanh` CLI offers
//! the same operations to operators).
//!
//! ```text
//! registry_tool generate --kind population|immigration --count N [--seed S] [--format csv|jsonl] --out PATH
//! registry_tool import   --kind population|immigration --db URL --file PATH [--format F] [--batch-size N]
//!                        [--order auto|sorted|streamed] [--sort-memory-mb N] [--progress]
//! registry_tool lookup   --db URL --file PATH [--count N] [--seed S]
//! ```
//!
//! `import` prints one line of `key=value` figures; `lookup` samples existing identification numbers from the
//! (population CSV) file it was imported from, makes up as many well-formed numbers that are not in the sample,
//! looks each up once through `StoreRegistry` and prints latency percentiles.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_domain::{IdentificationNumber, ProvinceTable};
use dinhdanh_registry::generate::{GenerateOptions, generate_to_path};
use dinhdanh_registry::import::{Format, ImportOptions, Order, import_file};
use dinhdanh_registry::{Registry, StoreRegistry};
use dinhdanh_store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.iter().position(|a| a == name).and_then(|i| self.0.get(i + 1)).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name).ok_or_else(|| format!("{name} is required"))
    }

    fn number(&self, name: &str, default: u64) -> Result<u64, String> {
        self.value(name).map_or(Ok(default), |v| v.replace('_', "").parse().map_err(|e| format!("{name}: {e}")))
    }

    fn kind(&self) -> Result<RegistryKind, String> {
        match self.required("--kind")? {
            "population" => Ok(RegistryKind::Population),
            "immigration" => Ok(RegistryKind::Immigration),
            other => Err(format!("unknown kind {other}")),
        }
    }

    fn format(&self) -> Result<Option<Format>, String> {
        self.value("--format").map(str::parse).transpose()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first().cloned() else {
        eprintln!("usage: registry_tool generate|import|lookup ...");
        return ExitCode::from(2);
    };
    let args = Args(args);
    let result = match command.as_str() {
        "generate" => generate(&args),
        "import" => import(&args).await,
        "lookup" => lookup(&args).await,
        other => Err(format!("unknown command {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &Args) -> Result<(), String> {
    let out = PathBuf::from(args.required("--out")?);
    let format = args.format()?.or_else(|| Format::from_path(&out)).unwrap_or(Format::Csv);
    let options = GenerateOptions {
        kind: args.kind()?,
        count: args.number("--count", 1000)?,
        seed: args.number("--seed", 1)?,
        format,
    };
    let started = Instant::now();
    generate_to_path(&out, &options).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    println!("generated rows={} seconds={elapsed:.2} rows_per_s={:.0}", options.count, options.count as f64 / elapsed);
    Ok(())
}

async fn import(args: &Args) -> Result<(), String> {
    let store = Store::connect(args.required("--db")?).await.map_err(|e| e.to_string())?;
    // The batch size that suits the backend, unless --batch-size says otherwise.
    let mut options = ImportOptions::for_store(args.kind()?, &store);
    options.format = args.format()?;
    options.batch_size = args.number("--batch-size", options.batch_size as u64)? as usize;
    options.order = match args.value("--order") {
        None | Some("auto") => Order::Auto,
        Some("sorted") => Order::Sorted,
        Some("streamed") => Order::Streamed,
        Some(other) => return Err(format!("unknown order {other} (auto, sorted or streamed)")),
    };
    options.sort_memory = args.number("--sort-memory-mb", (options.sort_memory >> 20) as u64)? as usize * (1 << 20);
    if args.0.iter().any(|a| a == "--progress") {
        options.progress = dinhdanh_registry::import::Progress::stderr();
    }
    let report =
        import_file(&store, &PathBuf::from(args.required("--file")?), &options).await.map_err(|e| e.to_string())?;
    println!(
        "imported batch={} rows={} written={} unchanged={} rejected={} seconds={:.2} rows_per_s={:.0}",
        options.batch_size,
        report.rows_read,
        report.written,
        report.unchanged,
        report.rejected_count,
        report.elapsed.as_secs_f64(),
        report.rows_per_second()
    );
    for rejected in report.rejected.iter().take(10) {
        println!("rejected {rejected}");
    }
    store.close().await;
    Ok(())
}

async fn lookup(args: &Args) -> Result<(), String> {
    let count = args.number("--count", 5000)? as usize;
    let mut rng = StdRng::seed_from_u64(args.number("--seed", 7)?);
    let provinces = ProvinceTable::builtin();

    // Reservoir-sample existing numbers from the file (first column of a population CSV).
    let sampling = Instant::now();
    let mut reader = csv::Reader::from_path(args.required("--file")?).map_err(|e| e.to_string())?;
    let mut existing: Vec<String> = Vec::with_capacity(count);
    let mut record = csv::ByteRecord::new();
    let mut seen = 0usize;
    while reader.read_byte_record(&mut record).map_err(|e| e.to_string())? {
        let id = String::from_utf8_lossy(&record[0]).into_owned();
        if existing.len() < count {
            existing.push(id);
        } else {
            let j = rng.gen_range(0..=seen);
            if j < count {
                existing[j] = id;
            }
        }
        seen += 1;
    }
    let known: HashSet<&str> = existing.iter().map(String::as_str).collect();
    let codes: Vec<&str> = provinces.codes().collect();
    let mut missing = Vec::with_capacity(count);
    while missing.len() < count {
        let id = format!(
            "{}{}{:02}{:06}",
            codes[rng.gen_range(0..codes.len())],
            rng.gen_range(0..2),
            rng.gen_range(30..100),
            rng.gen_range(0..1_000_000)
        );
        if !known.contains(id.as_str()) {
            missing.push(id);
        }
    }
    eprintln!("sampled {} of {seen} rows in {:.1}s", existing.len(), sampling.elapsed().as_secs_f64());

    let store = Store::connect(args.required("--db")?).await.map_err(|e| e.to_string())?;
    let rows = store.count_citizens().await.map_err(|e| e.to_string())?;
    let registry = StoreRegistry::new(store.clone());
    let parse = |s: &str| IdentificationNumber::parse(s, &provinces).map_err(|e| e.to_string());

    // Warm-up: connections and statement caches, not the data (a different sample).
    for id in missing.iter().take(200) {
        registry.citizen(&parse(id)?).await.map_err(|e| e.to_string())?;
    }
    // Interleave existing and missing lookups so neither profits from the other's cache state.
    let mut existing_times = Vec::with_capacity(count);
    let mut missing_times = Vec::with_capacity(count);
    let mut found_existing = 0;
    let mut found_missing = 0;
    for (a, b) in existing.iter().zip(&missing) {
        let id = parse(a)?;
        let t = Instant::now();
        found_existing += usize::from(registry.citizen(&id).await.map_err(|e| e.to_string())?.is_some());
        existing_times.push(t.elapsed());
        let id = parse(b)?;
        let t = Instant::now();
        found_missing += usize::from(registry.citizen(&id).await.map_err(|e| e.to_string())?.is_some());
        missing_times.push(t.elapsed());
    }
    println!("registry rows={rows}");
    report("existing", &mut existing_times, found_existing);
    report("missing", &mut missing_times, found_missing);
    let mut all: Vec<Duration> = existing_times.into_iter().chain(missing_times).collect();
    report("all", &mut all, found_existing + found_missing);
    store.close().await;
    Ok(())
}

fn report(label: &str, times: &mut [Duration], found: usize) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "lookup {label}: n={} found={found} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        times.len(),
        ms(at(0.50)),
        ms(at(0.90)),
        ms(at(0.99)),
        ms(times[times.len() - 1])
    );
}
