//! The model manager: which models are served, their versions, readiness, load, unload and reload.
//!
//! Each served name has a [`ModelSlot`] holding the current [`ServedVersion`] behind a lock that is held
//! only to clone an `Arc`: a request takes the version once and keeps it to the end, so swapping in a new
//! version (reload) or taking it away (unload) never fails a request already in flight; the old version's
//! batcher finishes what it has queued and its threads stop when the last request lets go of it.
//!
//! Loading (resolving the URI and reading the model) runs on a blocking thread. Models that follow an
//! alias or stage (`models:/x@champion`, `models:/x/Production`, `models:/x/latest`), or that have a
//! `reload_interval`, are re-resolved periodically; when the URI points at another version, the new one
//! is loaded next to the old and swapped in. A failed reload keeps the old version and logs why.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use homeml_flavor::{FlavorRegistry, LoadOptions};
use tokio::task::JoinHandle;

use crate::batcher::{Batcher, BatcherSettings};
use crate::config::ModelConfig;
use crate::metrics::{Metrics, ModelMetrics};
use crate::protocol::ModelInfo;
use crate::resolve::{is_floating, Resolved, Resolver};

/// How often a model following an alias or stage is re-resolved when no `reload_interval` is set.
pub const DEFAULT_FOLLOW_INTERVAL: Duration = Duration::from_secs(30);

/// Errors of the model lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagerError {
    /// No model is configured under that name.
    #[error("model {0:?} is not known to this server")]
    UnknownModel(String),
    /// Two models would be served under the same name.
    #[error("two models are configured under the name {0:?}")]
    DuplicateName(String),
    /// Resolving or loading failed.
    #[error("cannot load model {name:?}: {message}")]
    Load {
        /// The model name.
        name: String,
        /// Why.
        message: String,
    },
}

/// One loaded version of a model: its description and its batcher.
#[derive(Debug)]
pub struct ServedVersion {
    /// What the protocols need to know about the model.
    pub info: ModelInfo,
    /// Its queue and compute threads.
    pub batcher: Batcher,
    /// The flavor that loaded it.
    pub flavor: String,
    /// The directory it was loaded from.
    pub path: PathBuf,
    /// Whether the model gives meaningful answers for missing values (NaN); when not, requests holding
    /// one are refused (see [`crate::missing`]).
    pub accepts_missing_values: bool,
    identity: String,
}

/// The lifecycle state of a served name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelState {
    /// Being loaded for the first time (or after an unload).
    Loading,
    /// Serving.
    Ready,
    /// Unloaded through the repository API.
    Unloaded,
    /// The last load failed and no version serves.
    Failed(String),
}

impl ModelState {
    /// The KServe repository index state name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelState::Loading => "LOADING",
            ModelState::Ready => "READY",
            ModelState::Unloaded => "UNAVAILABLE",
            ModelState::Failed(_) => "UNAVAILABLE",
        }
    }

    /// Why the model is not ready (empty when it is).
    pub fn reason(&self) -> String {
        match self {
            ModelState::Loading => "loading".into(),
            ModelState::Ready => String::new(),
            ModelState::Unloaded => "unloaded".into(),
            ModelState::Failed(why) => why.clone(),
        }
    }
}

/// A served name.
#[derive(Debug)]
pub struct ModelSlot {
    name: String,
    config: ModelConfig,
    current: RwLock<Option<Arc<ServedVersion>>>,
    state: RwLock<ModelState>,
    metrics: Arc<ModelMetrics>,
    lifecycle: tokio::sync::Mutex<()>,
    reloader: Mutex<Option<JoinHandle<()>>>,
}

fn read<T: Clone>(l: &RwLock<T>) -> T {
    l.read().unwrap_or_else(|p| p.into_inner()).clone()
}

fn write<T>(l: &RwLock<T>, v: T) {
    *l.write().unwrap_or_else(|p| p.into_inner()) = v;
}

impl ModelSlot {
    /// The served name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version serving now, if any.
    pub fn current(&self) -> Option<Arc<ServedVersion>> {
        read(&self.current)
    }

    /// The lifecycle state.
    pub fn state(&self) -> ModelState {
        read(&self.state)
    }

    /// The settings.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The reload interval in effect: configured, else [`DEFAULT_FOLLOW_INTERVAL`] for URIs that follow
    /// an alias or stage, else none.
    pub fn reload_interval(&self) -> Option<Duration> {
        self.config
            .reload_interval
            .or_else(|| is_floating(&self.config.uri).then_some(DEFAULT_FOLLOW_INTERVAL))
    }

    /// Stops the task that follows the URI, if one runs.
    fn stop_reloader(&self) {
        let task = self
            .reloader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    fn set_state(&self, s: ModelState) {
        self.metrics
            .ready
            .store(i64::from(s == ModelState::Ready), Ordering::Relaxed);
        write(&self.state, s);
    }
}

/// Loads models: resolves URIs and picks flavors.
#[derive(Clone)]
struct Loader {
    registry: Arc<FlavorRegistry>,
    resolver: Resolver,
}

impl Loader {
    async fn resolve(&self, uri: &str) -> Result<Resolved, String> {
        let resolver = self.resolver.clone();
        let uri = uri.to_string();
        tokio::task::spawn_blocking(move || resolver.resolve(&uri).map_err(|e| e.to_string()))
            .await
            .map_err(|e| format!("resolver thread failed: {e}"))?
    }

    /// Resolves (unless given) and loads the model of `slot`. Returns `None` when `resolved` has the
    /// identity of the version serving now and `force` is off.
    async fn refresh(
        &self,
        slot: &ModelSlot,
        resolved: Option<Resolved>,
        force: bool,
    ) -> Result<Option<Arc<ServedVersion>>, String> {
        let _guard = slot.lifecycle.lock().await;
        let resolved = match resolved {
            Some(r) => r,
            None => self.resolve(&slot.config.uri).await?,
        };
        if !force {
            if let Some(cur) = slot.current() {
                if cur.identity == resolved.identity {
                    return Ok(None);
                }
            }
        }
        let started = Instant::now();
        let registry = self.registry.clone();
        let options = LoadOptions {
            engine: slot.config.engine.clone(),
            // As many concurrent calls as the batcher makes (e.g. ort's session pool).
            threads: Some(slot.config.workers),
            ..LoadOptions::default()
        };
        let path = resolved.path.clone();
        let loaded = tokio::task::spawn_blocking(move || registry.load_dir(&path, &options))
            .await
            .map_err(|e| format!("load thread failed: {e}"));
        let loaded = match loaded.and_then(|r| r.map_err(|e| e.to_string())) {
            Ok(l) => l,
            Err(e) => {
                slot.metrics.record_load(started.elapsed(), false);
                return Err(e);
            }
        };
        let version = resolved.version.clone().unwrap_or_else(|| "1".to_string());
        let info = ModelInfo::from_loaded(slot.name.clone(), version, &loaded);
        let accepts_missing_values = loaded.model.accepts_missing_values();
        let settings = BatcherSettings {
            max_batch_rows: slot.config.max_batch_rows,
            max_queue_delay: slot.config.max_queue_delay,
            queue_capacity: slot.config.queue_capacity,
            workers: slot.config.workers,
            inline_budget: slot.config.inline_budget,
        };
        let batcher = Batcher::new(
            &slot.name,
            loaded.model.clone(),
            &settings,
            slot.metrics.clone(),
        )
        .map_err(|e| format!("cannot start compute threads: {e}"))?;
        let took = started.elapsed();
        slot.metrics.record_load(took, true);
        let version = Arc::new(ServedVersion {
            info,
            batcher,
            flavor: loaded.flavor,
            path: resolved.path,
            accepts_missing_values,
            identity: resolved.identity,
        });
        write(&slot.current, Some(version.clone()));
        slot.set_state(ModelState::Ready);
        tracing::info!(
            model = %slot.name,
            version = %version.info.version,
            flavor = %version.flavor,
            path = %version.path.display(),
            load_ms = took.as_secs_f64() * 1e3,
            "model loaded"
        );
        Ok(Some(version))
    }
}

/// Every served model.
pub struct ModelManager {
    slots: RwLock<BTreeMap<String, Arc<ModelSlot>>>,
    loader: Loader,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ModelManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelManager")
            .field("models", &self.names())
            .finish()
    }
}

impl ModelManager {
    /// A manager loading with `registry` and resolving with `resolver`.
    pub fn new(
        registry: Arc<FlavorRegistry>,
        resolver: Resolver,
        metrics: Arc<Metrics>,
    ) -> ModelManager {
        ModelManager {
            slots: RwLock::new(BTreeMap::new()),
            loader: Loader { registry, resolver },
            metrics,
        }
    }

    /// Resolves and loads a configured model, then serves it under its name (and starts its reloader).
    pub async fn add(
        self: &Arc<Self>,
        config: ModelConfig,
    ) -> Result<Arc<ModelSlot>, ManagerError> {
        let resolved =
            self.loader
                .resolve(&config.uri)
                .await
                .map_err(|message| ManagerError::Load {
                    name: config.name.clone().unwrap_or_else(|| config.uri.clone()),
                    message,
                })?;
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| resolved.default_name());
        let slot = Arc::new(ModelSlot {
            name: name.clone(),
            config,
            current: RwLock::new(None),
            state: RwLock::new(ModelState::Loading),
            metrics: self.metrics.model(&name),
            lifecycle: tokio::sync::Mutex::new(()),
            reloader: Mutex::new(None),
        });
        {
            let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
            if slots.contains_key(&name) {
                return Err(ManagerError::DuplicateName(name));
            }
            slots.insert(name.clone(), slot.clone());
        }
        slot.set_state(ModelState::Loading);
        if let Err(message) = self.loader.refresh(&slot, Some(resolved), true).await {
            slot.set_state(ModelState::Failed(message.clone()));
            return Err(ManagerError::Load { name, message });
        }
        self.start_reloader(&slot);
        Ok(slot)
    }

    /// The slot of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<ModelSlot>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The served names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The name of the only served model, when exactly one is served (without listing them all).
    pub fn sole_name(&self) -> Option<String> {
        let slots = self.slots.read().unwrap_or_else(|p| p.into_inner());
        match slots.len() {
            1 => slots.keys().next().cloned(),
            _ => None,
        }
    }

    /// Every slot, by name.
    pub fn slots(&self) -> Vec<Arc<ModelSlot>> {
        self.slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// True when every model is ready (and there is at least one).
    pub fn all_ready(&self) -> bool {
        let slots = self.slots();
        !slots.is_empty() && slots.iter().all(|s| s.state() == ModelState::Ready)
    }

    /// (name, version, state, reason) of every model, for the repository index.
    pub fn index(&self) -> Vec<(String, String, String, String)> {
        self.slots()
            .iter()
            .map(|s| {
                let state = s.state();
                let version = s
                    .current()
                    .map(|v| v.info.version.clone())
                    .unwrap_or_default();
                (
                    s.name.clone(),
                    version,
                    state.as_str().to_string(),
                    state.reason(),
                )
            })
            .collect()
    }

    /// Loads `name` (after an unload, or again when its URI moved) and starts its reloader.
    pub async fn load(&self, name: &str) -> Result<(), ManagerError> {
        let slot = self
            .get(name)
            .ok_or_else(|| ManagerError::UnknownModel(name.to_string()))?;
        if slot.current().is_none() {
            slot.set_state(ModelState::Loading);
        }
        match self.loader.refresh(&slot, None, false).await {
            Ok(_) => {
                self.start_reloader(&slot);
                Ok(())
            }
            Err(message) => {
                if slot.current().is_none() {
                    slot.set_state(ModelState::Failed(message.clone()));
                }
                Err(ManagerError::Load {
                    name: name.to_string(),
                    message,
                })
            }
        }
    }

    /// Stops serving `name`: requests in flight finish, new ones get 503 until it is loaded again.
    pub async fn unload(&self, name: &str) -> Result<(), ManagerError> {
        let slot = self
            .get(name)
            .ok_or_else(|| ManagerError::UnknownModel(name.to_string()))?;
        let _guard = slot.lifecycle.lock().await;
        slot.stop_reloader();
        write(&slot.current, None);
        slot.set_state(ModelState::Unloaded);
        tracing::info!(model = %name, "model unloaded");
        Ok(())
    }

    /// Re-resolves `name` now and swaps in the new version if the URI moved. Returns whether it did.
    pub async fn reload_now(&self, name: &str) -> Result<bool, ManagerError> {
        let slot = self
            .get(name)
            .ok_or_else(|| ManagerError::UnknownModel(name.to_string()))?;
        self.loader
            .refresh(&slot, None, false)
            .await
            .map(|v| v.is_some())
            .map_err(|message| ManagerError::Load {
                name: name.to_string(),
                message,
            })
    }

    /// Stops every reloader (on shutdown).
    pub fn stop_reloaders(&self) {
        for slot in self.slots() {
            slot.stop_reloader();
        }
    }

    fn start_reloader(&self, slot: &Arc<ModelSlot>) {
        let Some(interval) = slot.reload_interval() else {
            return;
        };
        let mut guard = slot.reloader.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let loader = self.loader.clone();
        let weak = Arc::downgrade(slot);
        *guard = Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(slot) = weak.upgrade() else { return };
                if slot.state() == ModelState::Unloaded {
                    continue;
                }
                let before = slot.current().map(|v| v.info.version.clone());
                match loader.refresh(&slot, None, false).await {
                    Ok(Some(v)) => tracing::info!(
                        model = %slot.name,
                        from = ?before,
                        to = %v.info.version,
                        "the model's URI moved: new version swapped in"
                    ),
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        model = %slot.name,
                        error = %e,
                        "reload failed; the current version keeps serving"
                    ),
                }
            }
        }));
    }
}
