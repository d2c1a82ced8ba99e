//! The real `annal` binary in a temp home, and an owner (`annal serve`) stopped on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;

use super::model_dir;

/// `annal` with its home (config, data, HOME) in `home` and the model found.
pub fn annal(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_annal"));
    command
        .env("ANNAL_HOME", home)
        .env("HOME", home)
        .env("ANNAL_MODEL_DIR", model_dir())
        .env_remove("ANNAL_CONFIG")
        .stdin(Stdio::null());
    command
}

/// A temp home whose owner takes any free port.
pub fn home() -> anyhow::Result<tempfile::TempDir> {
    let home = tempfile::tempdir()?;
    std::fs::write(home.path().join("config.yaml"), "port: 0\n")?;
    Ok(home)
}

/// `annal serve` on `home`, answering HTTP; stopped on drop.
pub struct Owner(pub Child);

impl Owner {
    pub fn start(home: &Path) -> anyhow::Result<Self> {
        let address = home.join("data").join(annal::http::ADDRESS_FILE);
        // An earlier owner's file would pass for this one's before it holds the lock, and a
        // sidecar started meanwhile would start an owner of its own that takes the lock.
        match std::fs::remove_file(&address) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err.into()),
            _ => {}
        }
        let child = annal(home).arg("serve").stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        let owner = Self(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !address.exists() {
            if Instant::now() > deadline {
                bail!("the owner did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(owner)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}
