//! Waiting for the signals that end a server: SIGTERM (Kubernetes, docker stop) and SIGINT (Ctrl-C).

/// Completes when the process receives SIGTERM or SIGINT (Ctrl-C elsewhere than Unix).
/// If a handler cannot be installed, that signal is logged and ignored.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        let int = async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::warn!(error = %e, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = term => tracing::info!("SIGTERM: shutting down gracefully"),
            _ = int => tracing::info!("SIGINT: shutting down gracefully"),
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C: shutting down gracefully");
    }
}
