//! The agent clients Annal connects to: where each keeps its MCP servers (per platform and
//! scope), the shape of its entry, its instruction file and how to tell it is installed.
//! The facts come from the clients' own docs (`CLIENTS.md` in the project's shared notes).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::Environment;
use super::document::{Format, Shape};

/// Every client `annal install` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeCode,
    Codex,
    Gemini,
    Cursor,
    #[serde(rename = "vscode")]
    VsCode,
    ClaudeDesktop,
    Windsurf,
    Zed,
    Opencode,
}

/// User scope: the client's own config. Project scope: a file in the current directory that
/// the client reads for that project only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    User,
    Project,
}

impl Client {
    pub const ALL: [Client; 9] = [
        Client::ClaudeCode,
        Client::Codex,
        Client::Gemini,
        Client::Cursor,
        Client::VsCode,
        Client::ClaudeDesktop,
        Client::Windsurf,
        Client::Zed,
        Client::Opencode,
    ];

    /// The name `--client` takes.
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeCode => "claude-code",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Cursor => "cursor",
            Client::VsCode => "vscode",
            Client::ClaudeDesktop => "claude-desktop",
            Client::Windsurf => "windsurf",
            Client::Zed => "zed",
            Client::Opencode => "opencode",
        }
    }

    /// The name people know it by.
    pub fn display_name(self) -> &'static str {
        match self {
            Client::ClaudeCode => "Claude Code",
            Client::Codex => "Codex CLI",
            Client::Gemini => "Gemini CLI",
            Client::Cursor => "Cursor",
            Client::VsCode => "VS Code",
            Client::ClaudeDesktop => "Claude Desktop",
            Client::Windsurf => "Windsurf",
            Client::Zed => "Zed",
            Client::Opencode => "opencode",
        }
    }

    /// Parses a `--client` name (also a few spellings people use).
    pub fn from_id(name: &str) -> Option<Client> {
        let name = name.trim().to_ascii_lowercase();
        Client::ALL.into_iter().find(|c| c.id() == name).or(match name.as_str() {
            "claude" => Some(Client::ClaudeCode),
            "code" | "vs-code" | "copilot" => Some(Client::VsCode),
            "codex-cli" => Some(Client::Codex),
            "gemini-cli" => Some(Client::Gemini),
            _ => None,
        })
    }

    pub fn has_project_scope(self) -> bool {
        matches!(self, Client::ClaudeCode | Client::Gemini | Client::Cursor | Client::VsCode)
    }

    /// How its config file is written.
    pub(super) fn format(self) -> Format {
        match self {
            Client::Codex => Format::Toml,
            Client::ClaudeCode | Client::Cursor | Client::ClaudeDesktop | Client::Windsurf => {
                Format::Json
            }
            Client::Gemini | Client::VsCode | Client::Zed | Client::Opencode => Format::Jsonc,
        }
    }

    /// The key under which its servers live, and the shape of our entry there.
    pub(super) fn shape(self) -> Shape {
        match self {
            Client::ClaudeCode => Shape::ClaudeCode,
            Client::Codex => Shape::Codex,
            Client::VsCode => Shape::VsCode,
            Client::Zed => Shape::Zed,
            Client::Opencode => Shape::Opencode,
            Client::Gemini | Client::Cursor | Client::ClaudeDesktop | Client::Windsurf => {
                Shape::McpServers
            }
        }
    }

    /// What this client's entry runs when the others run `command` (this binary's command,
    /// `annal` or its path): Claude Desktop starts servers without a login shell's PATH, so
    /// its entry always names the binary's absolute path.
    pub(super) fn command_for(self, env: &Environment, command: &str) -> String {
        if self == Client::ClaudeDesktop {
            env.exe.display().to_string()
        } else {
            command.to_owned()
        }
    }

    /// The file holding its MCP servers; `None` for a scope it does not have.
    pub fn config_file(self, env: &Environment, scope: Scope) -> Option<PathBuf> {
        if scope == Scope::Project {
            let relative = match self {
                Client::ClaudeCode => ".mcp.json",
                Client::Gemini => ".gemini/settings.json",
                Client::Cursor => ".cursor/mcp.json",
                Client::VsCode => ".vscode/mcp.json",
                _ => return None,
            };
            return Some(env.cwd.join(relative));
        }
        Some(match self {
            Client::ClaudeCode => claude_dir(env, ".").join(".claude.json"),
            Client::Codex => env.codex_home.join("config.toml"),
            Client::Gemini => env.home.join(".gemini/settings.json"),
            Client::Cursor => env.home.join(".cursor/mcp.json"),
            Client::VsCode => app_config_dir(env, "Code").join("User/mcp.json"),
            Client::ClaudeDesktop => {
                app_config_dir(env, "Claude").join("claude_desktop_config.json")
            }
            Client::Windsurf => env.home.join(".codeium/windsurf/mcp_config.json"),
            Client::Zed => zed_dir(env).join("settings.json"),
            Client::Opencode => {
                let dir = env.config_home.join("opencode");
                // opencode reads either; edit the one the user has.
                let jsonc = dir.join("opencode.jsonc");
                if !dir.join("opencode.json").exists() && jsonc.exists() {
                    jsonc
                } else {
                    dir.join("opencode.json")
                }
            }
        })
    }

    /// Its user-level instruction file, for the clients that read one.
    pub fn instruction_file(self, env: &Environment) -> Option<PathBuf> {
        match self {
            Client::ClaudeCode => Some(claude_dir(env, ".claude").join("CLAUDE.md")),
            Client::Codex => Some(env.codex_home.join("AGENTS.md")),
            Client::Gemini => Some(env.home.join(".gemini/GEMINI.md")),
            _ => None,
        }
    }

    /// Installed here: its config dir exists or its program is on PATH.
    pub fn detected(self, env: &Environment) -> bool {
        let dirs: Vec<PathBuf> = match self {
            Client::ClaudeCode => {
                vec![claude_dir(env, ".claude"), claude_dir(env, ".").join(".claude.json")]
            }
            Client::Codex => vec![env.codex_home.clone()],
            Client::Gemini => vec![env.home.join(".gemini")],
            Client::Cursor => vec![env.home.join(".cursor")],
            Client::VsCode => vec![app_config_dir(env, "Code")],
            Client::ClaudeDesktop => vec![app_config_dir(env, "Claude")],
            Client::Windsurf => vec![env.home.join(".codeium/windsurf")],
            Client::Zed => vec![zed_dir(env)],
            Client::Opencode => vec![env.config_home.join("opencode")],
        };
        let programs: &[&str] = match self {
            Client::ClaudeCode => &["claude"],
            Client::Codex => &["codex"],
            Client::Gemini => &["gemini"],
            Client::Cursor => &["cursor"],
            Client::VsCode => &["code"],
            Client::ClaudeDesktop => &["claude-desktop"],
            Client::Windsurf => &["windsurf"],
            Client::Zed => &["zed", "zeditor"],
            Client::Opencode => &["opencode"],
        };
        dirs.iter().any(|d| d.exists()) || programs.iter().any(|p| env.which(p).is_some())
    }
}

/// Claude Code keeps everything in `CLAUDE_CONFIG_DIR` when it is set, else `.claude.json` in
/// the home and the rest in `~/.claude`.
fn claude_dir(env: &Environment, under_home: &str) -> PathBuf {
    match &env.claude_config_dir {
        Some(dir) => dir.clone(),
        None => env.home.join(under_home),
    }
}

/// An Electron app's config dir: `~/.config/<app>` on Linux, under Application Support on
/// macOS, `%APPDATA%` on Windows.
fn app_config_dir(env: &Environment, app: &str) -> PathBuf {
    if cfg!(target_os = "macos") {
        env.home.join("Library/Application Support").join(app)
    } else if cfg!(windows) {
        env.app_data.clone().unwrap_or_else(|| env.home.join("AppData/Roaming")).join(app)
    } else {
        env.config_home.join(app)
    }
}

/// Zed uses `~/.config/zed` on Linux and macOS (honouring `XDG_CONFIG_HOME`), `%APPDATA%\Zed`
/// on Windows.
fn zed_dir(env: &Environment) -> PathBuf {
    if cfg!(windows) {
        env.app_data.clone().unwrap_or_else(|| env.home.join("AppData/Roaming")).join("Zed")
    } else {
        env.config_home.join("zed")
    }
}
