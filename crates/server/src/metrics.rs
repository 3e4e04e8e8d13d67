//! The process-wide Prometheus recorder. Installed once, whatever the number of servers a process starts
//! (tests start many), and rendered by `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding application): then ours stays silent.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub fn install() {
    let _ = handle();
}

pub fn render() -> String {
    handle().render()
}
