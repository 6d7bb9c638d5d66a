//! Persistent GPU caches, so that a restarted server is ready in seconds (model warm-up itself is
//! [`crate::recognize::warm_up`]).
//!
//! What is cached where (burn 0.22.1 / CubeCL 0.11.3, read from their sources):
//! - CubeCL keeps autotune results (and throughput measurements) in one SQLite-like database per
//!   "environment" (`<root>/<name>.db`, crate `cubecl-environment`). The root comes from
//!   `[environment] path` in a `cubecl.toml` (or the `[cubecl]` section of `burn.toml`) found by
//!   walking up from the current directory; the default (`target`) is
//!   `<outermost Cargo.toml dir>/target/environment` when the process runs inside a Cargo
//!   checkout, and otherwise the user cache directory `$XDG_CACHE_HOME/cubecl` (or
//!   `~/.cache/cubecl`). There is no environment variable for the path (`CUBECL_ENVIRONMENT`
//!   only names the database, `CUBECL_AUTOTUNE_CACHE=0` disables it), and the config type is not
//!   re-exported by burn, so ferrocr steers it through `XDG_CACHE_HOME`.
//! - Compiled kernels: burn's `wgpu` feature builds CubeCL's wgpu runtime without its `spirv`
//!   feature, so kernels are WGSL compiled by the driver on each run and CubeCL persists none;
//!   the driver's own shader caches do that (Mesa: `$XDG_CACHE_HOME/mesa_shader_cache`, NVIDIA:
//!   `__GL_SHADER_DISK_CACHE_PATH`, default `~/.cache/nvidia`).
//!
//! [`configure_caches`] therefore points all of them into one ferrocr cache directory
//! (`FERROCR_CACHE_DIR`, default `$XDG_CACHE_HOME/ferrocr` or `~/.cache/ferrocr`) before the
//! first GPU device is created; mount that directory on a volume in containers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Serialize;

/// Where the GPU caches go, as configured by [`configure_caches`].
#[derive(Debug, Clone, Serialize)]
pub struct CacheSetup {
    /// The ferrocr cache directory (`FERROCR_CACHE_DIR` or the default).
    pub dir: PathBuf,
    /// Where CubeCL will keep its autotune database (see the module docs).
    pub cubecl_root: PathBuf,
    /// Environment variables set by ferrocr (those already set by the user are left alone).
    pub set_vars: Vec<String>,
    /// Why the cache may not persist (e.g. the directory cannot be created), if anything.
    pub warning: Option<String>,
}

/// The ferrocr cache directory: `FERROCR_CACHE_DIR`, else `$XDG_CACHE_HOME/ferrocr`, else
/// `$HOME/.cache/ferrocr`, else `<temp>/ferrocr`.
pub fn cache_dir() -> PathBuf {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = non_empty("FERROCR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = non_empty("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("ferrocr");
    }
    if let Some(h) = non_empty("HOME") {
        return PathBuf::from(h).join(".cache").join("ferrocr");
    }
    std::env::temp_dir().join("ferrocr")
}

/// The directory CubeCL resolves its cache root to with its default `target` setting: the
/// outermost directory above the current one holding a `Cargo.toml`, plus `target/environment`;
/// `None` outside a Cargo checkout.
fn cargo_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let mut root = None;
    let mut dir: Option<&Path> = Some(cwd.as_path());
    while let Some(d) = dir {
        if d.join("Cargo.toml").exists() {
            root = Some(d.join("target").join("environment"));
        }
        dir = d.parent();
    }
    root
}

/// Point CubeCL's autotune cache and the drivers' shader caches into [`cache_dir`] (see the
/// module docs). Idempotent; called by device selection before any GPU device exists, and
/// cheap to call again.
pub fn configure_caches() -> &'static CacheSetup {
    static SETUP: OnceLock<CacheSetup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = cache_dir();
        let warning = std::fs::create_dir_all(&dir)
            .err()
            .map(|e| format!("cannot create {}: {e}", dir.display()));
        let mut set_vars = Vec::new();
        let mut set = |key: &str, value: &Path| {
            // SAFETY: runs once, inside a OnceLock initialiser that every GPU entry point
            // (device selection, GpuContext) passes through before a driver is loaded, so no
            // other thread of ours reads these variables through libc concurrently.
            unsafe { std::env::set_var(key, value) };
            set_vars.push(format!("{key}={}", value.display()));
        };
        if warning.is_none() {
            if std::env::var_os("MESA_SHADER_CACHE_DIR").is_none() {
                set("MESA_SHADER_CACHE_DIR", &dir.join("mesa_shader_cache"));
            }
            if std::env::var_os("__GL_SHADER_DISK_CACHE_PATH").is_none() {
                set("__GL_SHADER_DISK_CACHE_PATH", &dir.join("nvidia"));
            }
            set("XDG_CACHE_HOME", &dir);
            // Without a login session (services, containers, CI) XDG_RUNTIME_DIR is unset and
            // the Vulkan loader's window-system probes print "XDG_RUNTIME_DIR is invalid" once
            // per adapter; a private directory of ours keeps stderr clean.
            if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
                let runtime = dir.join("runtime");
                if private_dir(&runtime).is_ok() {
                    set("XDG_RUNTIME_DIR", &runtime);
                }
            }
        }
        let cubecl_root = cargo_root().unwrap_or_else(|| user_cache_home().join("cubecl"));
        CacheSetup {
            dir,
            cubecl_root,
            set_vars,
            warning,
        }
    })
}

/// Create `path` as a directory only its owner can use (mode 0700 on Unix).
fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The user cache directory as CubeCL's `etcetera` resolves it: `$XDG_CACHE_HOME`, else
/// `$HOME/.cache`.
fn user_cache_home() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache"))
            .unwrap_or_else(std::env::temp_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_honours_the_override() {
        // Only reads the environment: FERROCR_CACHE_DIR is not set by the test harness, so the
        // default must end in "ferrocr".
        if std::env::var_os("FERROCR_CACHE_DIR").is_none() {
            assert!(
                cache_dir().ends_with("ferrocr"),
                "{}",
                cache_dir().display()
            );
        }
    }

    #[test]
    fn configure_caches_creates_the_directory_and_names_the_cubecl_root() {
        let setup = configure_caches();
        assert!(setup.dir.is_dir(), "{:?}", setup);
        // Tests run inside the Cargo checkout: CubeCL's default root is its target dir.
        assert!(
            setup.cubecl_root.ends_with("target/environment"),
            "{:?}",
            setup
        );
        assert!(std::env::var_os("XDG_CACHE_HOME").is_some());
    }
}
