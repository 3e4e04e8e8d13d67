//! Comparisons per second on typical records: synthetic plain impressions (about 40 minutiae each), one
//! genuine and one impostor comparison per finger. `cargo bench -p dinhdanh-fingerprint --bench compare`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dinhdanh_fingerprint::{Finger, ImpressionParams, Matcher, MinutiaeRecord, Template};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;

fn impressions(fingers: usize) -> Vec<(Template, Template)> {
    let mut rng = StdRng::seed_from_u64(7);
    let params = ImpressionParams::default();
    let template = |record: MinutiaeRecord| Template::from_record(&record).remove(0);
    (0..fingers)
        .map(|_| {
            let finger = Finger::generate(&mut rng);
            (template(finger.impression(&mut rng, &params)), template(finger.impression(&mut rng, &params)))
        })
        .collect()
}

fn compare(c: &mut Criterion) {
    let pairs = impressions(50);
    let matcher = Matcher::default();
    let mean_minutiae = pairs.iter().map(|(a, b)| a.len() + b.len()).sum::<usize>() as f64 / (2 * pairs.len()) as f64;
    eprintln!("mean minutiae per template: {mean_minutiae:.1}");
    let mut group = c.benchmark_group("compare");
    // Each iteration: every finger's genuine pair and one impostor pair (its probe against the next finger).
    group.throughput(Throughput::Elements(2 * pairs.len() as u64));
    group.bench_function("genuine_and_impostor", |b| {
        b.iter(|| {
            for (index, (reference, probe)) in pairs.iter().enumerate() {
                black_box(matcher.compare(black_box(probe), black_box(reference)));
                let other = &pairs[(index + 1) % pairs.len()].0;
                black_box(matcher.compare(black_box(probe), black_box(other)));
            }
        })
    });
    group.finish();
    let record = pairs_record();
    c.bench_function("template_from_record", |b| b.iter(|| Template::from_record(black_box(&record))));
}

fn pairs_record() -> MinutiaeRecord {
    let mut rng = StdRng::seed_from_u64(8);
    Finger::generate(&mut rng).impression(&mut rng, &ImpressionParams::default())
}

criterion_group!(benches, compare);
criterion_main!(benches);
