//! The embedded database: a private PostgreSQL cluster that civicdesk creates and runs itself, from the server
//! binaries installed on the machine, when `DATABASE_URL` is not set.
//!
//! The cluster lives in one data directory (`CIVICDESK_DATA_DIR`), listens on a Unix socket inside it and on no
//! TCP port, and trusts every local connection (only the directory's owner can reach the socket). The first
//! process creates it with `initdb`; every process that finds it stopped starts it with `pg_ctl`; the last process
//! to leave stops it. Two lock files beside the data directory keep that straight between processes: `*.use.lock`
//! is held shared by every process using the cluster, and `*.start.lock` exclusively while one of them creates,
//! starts or stops it. The kernel releases both when a process dies, so a killed process never blocks the others.
//!
//! PostgreSQL refuses to run as root: a root process runs the cluster as the data directory's owner, or for a new
//! cluster as the `postgres` system account.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// The data directory when `CIVICDESK_DATA_DIR` is not set, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "civicdesk-data/postgres";

/// The port in the socket's name (`.s.PGSQL.5432`); the cluster opens no TCP port.
const PORT: u16 = 5432;

/// The cluster's superuser: the same name as on a packaged PostgreSQL.
const SUPERUSER: &str = "postgres";

/// The oldest PostgreSQL the migrations run on (`DROP DATABASE ... WITH (FORCE)` is 13).
const OLDEST_MAJOR: u32 = 13;

/// The longest socket directory: the socket's path (`<dir>/.s.PGSQL.5432`) must fit in `sun_path`, 104 bytes on
/// macOS and 108 on Linux, with its terminating zero.
const LONGEST_SOCKET_DIR: usize = 103 - "/.s.PGSQL.5432".len();

/// Where a root process puts a cluster whose default data directory the `postgres` account cannot reach: a
/// directory per working directory (named after a hash of its path), so that the next start finds it again.
pub const FALLBACK_ROOT: &str = "/var/lib/civicdesk";

/// The file of settings civicdesk owns in the data directory, included from `postgresql.conf`.
const SETTINGS_FILE: &str = "civicdesk.conf";

/// Where and how to run the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The data directory (`CIVICDESK_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The directory of `initdb`, `pg_ctl` and `postgres` (`POSTGRES_BIN_DIR`); searched for when `None`.
    pub bin_dir: Option<PathBuf>,
    /// A throw-away cluster (the tests'): no flushing to disk, more connections. Never for data that matters.
    pub disposable: bool,
    /// `data_dir` is the default, not chosen by the operator: as root, when the cluster's account cannot reach it
    /// (a checkout under `/root`), the cluster goes to [`FALLBACK_ROOT`] instead of failing.
    pub default_location: bool,
}

impl ClusterConfig {
    /// A durable cluster in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, bin_dir: Option<PathBuf>) -> ClusterConfig {
        ClusterConfig { data_dir: data_dir.into(), bin_dir, disposable: false, default_location: false }
    }

    /// The data directory as an absolute path.
    pub fn absolute_data_dir(&self) -> anyhow::Result<PathBuf> {
        std::path::absolute(&self.data_dir)
            .with_context(|| format!("CIVICDESK_DATA_DIR={} cannot be made absolute", self.data_dir.display()))
    }

    /// The URL of database `name` in the cluster: `postgres:///name?host=<socket dir>&port=5432&user=postgres`,
    /// every part spelled out so that no `PG*` variable of the environment changes it.
    pub fn database_url(&self, name: &str) -> anyhow::Result<String> {
        Ok(socket_url(&socket_dir(&self.absolute_data_dir()?), name))
    }
}

fn socket_url(socket_dir: &Path, name: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let host = socket_dir.to_string_lossy();
    format!(
        "postgres:///{}?host={}&port={PORT}&user={SUPERUSER}&sslmode=disable&gssencmode=disable",
        utf8_percent_encode(name, NON_ALPHANUMERIC),
        utf8_percent_encode(&host, NON_ALPHANUMERIC)
    )
}

/// Where the socket goes: the data directory itself, or, when its path is too long for a socket address, a
/// directory of its own in the system's temporary directory, named after the data directory.
pub fn socket_dir(data_dir: &Path) -> PathBuf {
    if data_dir.as_os_str().len() <= LONGEST_SOCKET_DIR {
        return data_dir.to_owned();
    }
    std::env::temp_dir().join(format!("civicdesk-pg-{}", path_hash(data_dir)))
}

/// A short stable name for a path (16 hex digits of its SHA-256): the same directory gives the same name in
/// every process.
fn path_hash(path: &Path) -> String {
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    data_encoding::HEXLOWER.encode(&digest[..8])
}

/// The PostgreSQL server programs of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The directory holding `initdb`, `pg_ctl` and `postgres`.
    pub dir: PathBuf,
    /// The major version, such as 17.
    pub major: u32,
}

/// What to install when no server binaries are found, one line per system.
pub const INSTALL_HINT: &str = "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; \
     Fedora: dnf install postgresql-server; macOS: brew install postgresql@17), \
     set POSTGRES_BIN_DIR to the directory of its initdb and pg_ctl, \
     or set DATABASE_URL to a PostgreSQL server of your own";

/// Finds the server binaries: `bin_dir` alone when given; otherwise on `PATH`, through `pg_config --bindir`, then
/// under the usual installation directories (`/usr/lib/postgresql/*/bin` and the like), newest first. With
/// `major`, only that version will do (an existing data directory's).
pub fn find_binaries(bin_dir: Option<&Path>, major: Option<u32>) -> anyhow::Result<Binaries> {
    let candidates = match bin_dir {
        Some(dir) => vec![dir.to_owned()],
        None => candidate_dirs(std::env::var_os("PATH").as_deref(), pg_config_bindir(), &INSTALL_ROOTS),
    };
    pick_binaries(&candidates, major, bin_dir.is_some())
}

fn pick_binaries(candidates: &[PathBuf], major: Option<u32>, named: bool) -> anyhow::Result<Binaries> {
    let mut found = Vec::new();
    for dir in candidates {
        let complete = ["initdb", "pg_ctl", "postgres"].iter().all(|program| is_executable(&dir.join(program)));
        if !complete {
            continue;
        }
        if let Some(version) = server_major(dir) {
            found.push(Binaries { dir: dir.clone(), major: version });
        }
    }
    let usable = found.iter().filter(|b| b.major >= OLDEST_MAJOR);
    let chosen = match major {
        Some(wanted) => usable.clone().find(|b| b.major == wanted),
        None => usable.clone().next(),
    };
    if let Some(binaries) = chosen {
        return Ok(binaries.clone());
    }
    let searched = candidates.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    let seen = found.iter().map(|b| format!("{} in {}", b.major, b.dir.display())).collect::<Vec<_>>().join(", ");
    match (major, found.is_empty()) {
        (Some(wanted), _) => bail!(
            "the data directory was made by PostgreSQL {wanted}, whose server binaries are not installed \
             (found: {}); install PostgreSQL {wanted}'s server, set POSTGRES_BIN_DIR to its bin directory, \
             or set CIVICDESK_DATA_DIR to a new directory",
            if seen.is_empty() { "none" } else { &seen }
        ),
        (None, false) => bail!("PostgreSQL {OLDEST_MAJOR} or newer is needed, found only {seen}: {INSTALL_HINT}"),
        (None, true) if named => bail!(
            "POSTGRES_BIN_DIR={searched} has no initdb, pg_ctl and postgres of PostgreSQL {OLDEST_MAJOR} or newer: \
             {INSTALL_HINT}"
        ),
        (None, true) => bail!(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) were found (searched: {}): {INSTALL_HINT}",
            if searched.is_empty() { "nowhere" } else { &searched }
        ),
    }
}

/// The usual installation directories, each a prefix and a suffix around a version number: Debian and Ubuntu,
/// the PGDG packages for Fedora and RHEL, Homebrew on Apple silicon and on Intel, and Postgres.app.
const INSTALL_ROOTS: [(&str, &str, &str); 5] = [
    ("/usr/lib/postgresql", "", "bin"),
    ("/usr", "pgsql-", "bin"),
    ("/opt/homebrew/opt", "postgresql@", "bin"),
    ("/usr/local/opt", "postgresql@", "bin"),
    ("/Applications/Postgres.app/Contents/Versions", "", "bin"),
];

/// The directories to look in, in order: `PATH`, `pg_config --bindir`, then each installation root's versions,
/// newest first. Duplicates are dropped.
fn candidate_dirs(path: Option<&OsStr>, pg_config: Option<PathBuf>, roots: &[(&str, &str, &str)]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path.map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    dirs.extend(pg_config);
    for (root, prefix, bin) in roots {
        let Ok(entries) = fs::read_dir(root) else { continue };
        let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = name.strip_prefix(prefix)?;
                let numbers: Option<Vec<u32>> = version.split('.').map(|part| part.parse().ok()).collect();
                Some((numbers?, entry.path().join(bin)))
            })
            .collect();
        versions.sort_by(|a, b| b.0.cmp(&a.0));
        dirs.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|dir| !dir.as_os_str().is_empty() && seen.insert(dir.clone()));
    dirs
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !dir.trim().is_empty()).then(|| PathBuf::from(dir.trim()))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

/// The major version `pg_ctl --version` reports, such as 15 for `pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0)`.
fn server_major(dir: &Path) -> Option<u32> {
    let output = Command::new(dir.join("pg_ctl")).arg("--version").output().ok()?;
    parse_major(&String::from_utf8_lossy(&output.stdout))
}

fn parse_major(version: &str) -> Option<u32> {
    let after = version.split_once(')')?.1.trim_start();
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The account the cluster's programs run as: `None` for this process's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Account {
    uid: u32,
    gid: u32,
}

fn id(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok().filter(|_| output.status.success())
}

/// Whether this process runs as root (where `id` cannot be run, it is taken not to).
fn running_as_root() -> bool {
    id(&["-u"]) == Some(0)
}

/// The account for the cluster when running as root: the existing data directory's owner, or the `postgres`
/// system account for a new one.
fn account_for(data_dir: &Path) -> anyhow::Result<Option<Account>> {
    if !running_as_root() {
        return Ok(None);
    }
    if let Ok(metadata) = fs::metadata(data_dir.join("PG_VERSION"))
        && metadata.uid() != 0
    {
        return Ok(Some(Account { uid: metadata.uid(), gid: metadata.gid() }));
    }
    match (id(&["-u", SUPERUSER]), id(&["-g", SUPERUSER])) {
        (Some(uid), Some(gid)) if uid != 0 => Ok(Some(Account { uid, gid })),
        _ => bail!(no_account_message()),
    }
}

fn no_account_message() -> String {
    "PostgreSQL refuses to run as root, and this machine has no `postgres` system account to run the embedded \
     cluster as: create one (useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres), \
     run civicdesk as an unprivileged user, or set DATABASE_URL to a PostgreSQL server of your own"
        .to_owned()
}

/// The data directory to use: the configured one, except for a root process whose default data directory (no
/// `CIVICDESK_DATA_DIR`) holds no cluster yet and cannot be reached by the cluster's account; that one goes under
/// [`FALLBACK_ROOT`].
fn locate(config: &ClusterConfig) -> anyhow::Result<PathBuf> {
    let data_dir = config.absolute_data_dir()?;
    if !config.default_location || data_dir.join("PG_VERSION").exists() {
        return Ok(data_dir);
    }
    let Ok(Some(account)) = account_for(&data_dir) else { return Ok(data_dir) };
    if check_reachable(&data_dir, account).is_ok() {
        return Ok(data_dir);
    }
    let fallback = Path::new(FALLBACK_ROOT).join(path_hash(&data_dir)).join("postgres");
    tracing::warn!(
        "the postgres account cannot reach {} (PostgreSQL refuses to run as root); the embedded cluster lives in {} \
         instead (set CIVICDESK_DATA_DIR to choose)",
        data_dir.display(),
        fallback.display()
    );
    Ok(fallback)
}

/// Refuses a data directory whose path PostgreSQL's tools cannot take: `pg_ctl` hands it to a shell in double
/// quotes, and a comma splits the socket directory list.
fn check_path_characters(dir: &Path) -> anyhow::Result<()> {
    let text =
        dir.to_str().with_context(|| format!("{} is not UTF-8: choose another CIVICDESK_DATA_DIR", dir.display()))?;
    if let Some(bad) = text.chars().find(|c| matches!(c, ',' | '"' | '\'' | '$' | '`' | '\\') || c.is_control()) {
        bail!(
            "the embedded PostgreSQL cannot use {} ({bad:?} in the path): set CIVICDESK_DATA_DIR to a path \
             without , \" ' $ ` or \\",
            dir.display()
        );
    }
    Ok(())
}

/// Checks that `account` can walk down to `dir` (every ancestor searchable by it).
fn check_reachable(dir: &Path, account: Account) -> anyhow::Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(metadata) = fs::metadata(ancestor) else { continue };
        let mode = metadata.mode();
        let searchable = mode & 0o001 != 0
            || (metadata.uid() == account.uid && mode & 0o100 != 0)
            || (metadata.gid() == account.gid && mode & 0o010 != 0);
        if !searchable {
            bail!(
                "the embedded PostgreSQL runs as uid {} (PostgreSQL refuses to run as root), which cannot enter {} \
                 (mode {:o}): set CIVICDESK_DATA_DIR to a directory it can reach, such as \
                 /var/lib/civicdesk/postgres, run civicdesk as an unprivileged user, or set DATABASE_URL",
                account.uid,
                ancestor.display(),
                mode & 0o7777
            );
        }
    }
    Ok(())
}

/// A running cluster this process uses. Dropping it (or [`Cluster::release`]) lets go of it, and stops the server
/// when no other process uses it.
#[derive(Debug)]
pub struct Cluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    binaries: Binaries,
    account: Option<Account>,
    start_lock: PathBuf,
    use_lock: Option<File>,
    started_here: bool,
    created_here: bool,
}

impl Cluster {
    /// Opens the cluster of `config`, creating it when the data directory holds none yet and starting it when it
    /// is not running. Blocks (`initdb` takes a few seconds; another process's start is waited for).
    pub fn open(config: &ClusterConfig) -> anyhow::Result<Cluster> {
        let data_dir = locate(config)?;
        check_path_characters(&data_dir)?;
        let name = data_dir.file_name().context("CIVICDESK_DATA_DIR names no directory")?.to_string_lossy();
        let parent = data_dir.parent().context("CIVICDESK_DATA_DIR names no directory")?.to_owned();
        fs::create_dir_all(&parent).with_context(|| format!("could not create {}", parent.display()))?;
        let start_lock = parent.join(format!("{name}.start.lock"));
        let starting = lock_file(&start_lock)?;
        starting.lock().with_context(|| format!("could not lock {}", start_lock.display()))?;
        let use_lock_path = parent.join(format!("{name}.use.lock"));
        let using = lock_file(&use_lock_path)?;
        using.lock_shared().with_context(|| format!("could not lock {}", use_lock_path.display()))?;

        let existing_major = fs::read_to_string(data_dir.join("PG_VERSION")).ok().and_then(|v| v.trim().parse().ok());
        let binaries = find_binaries(config.bin_dir.as_deref(), existing_major)?;
        let account = account_for(&data_dir)?;
        let mut cluster = Cluster {
            socket_dir: socket_dir(&data_dir),
            data_dir,
            binaries,
            account,
            start_lock,
            use_lock: Some(using),
            started_here: false,
            created_here: false,
        };
        let prepared =
            cluster.prepare(existing_major.is_none(), config.disposable).and_then(|()| cluster.wait_until_ready());
        if prepared.is_err() {
            // Nothing was started; letting go would wait for the start lock this process holds.
            cluster.use_lock = None;
        }
        drop(starting);
        prepared.map(|()| cluster)
    }

    /// Creates the cluster if `create`, writes its settings and starts it unless it runs already.
    fn prepare(&mut self, create: bool, disposable: bool) -> anyhow::Result<()> {
        if create {
            self.create()?;
            self.created_here = true;
        }
        self.write_settings(disposable)?;
        if !self.is_running()? {
            self.start()?;
            self.started_here = true;
        }
        Ok(())
    }

    /// The URL of database `name` in this cluster.
    pub fn database_url(&self, name: &str) -> String {
        socket_url(&self.socket_dir, name)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's major version.
    pub fn major_version(&self) -> u32 {
        self.binaries.major
    }

    /// What happened on [`Cluster::open`], for the start-up log: "created and started", "started" or "already
    /// running".
    pub fn how_opened(&self) -> &'static str {
        match (self.created_here, self.started_here) {
            (true, _) => "created and started",
            (false, true) => "started",
            (false, false) => "already running",
        }
    }

    /// Lets go of the cluster; the last process using it stops the server (a fast shutdown: sessions are ended,
    /// what is committed stays). Answers whether this call stopped it.
    pub fn release(mut self) -> anyhow::Result<bool> {
        self.let_go()
    }

    fn let_go(&mut self) -> anyhow::Result<bool> {
        let Some(using) = self.use_lock.take() else { return Ok(false) };
        let starting = lock_file(&self.start_lock)?;
        starting.lock().context("could not lock the start lock")?;
        // Turning this process's shared lock into an exclusive one works only when no other process holds one:
        // this is the last process using the cluster. (A process starting meanwhile waits for the start lock.)
        let last = using.try_lock().is_ok();
        if !last || !self.is_running()? {
            return Ok(false);
        }
        let output = self.run("pg_ctl", |c| c.arg("stop").arg("-D").arg(&self.data_dir).args(["-m", "fast", "-w"]))?;
        check(&output, "pg_ctl stop")?;
        tracing::info!(data_dir = %self.data_dir.display(), "stopped the embedded PostgreSQL");
        Ok(true)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.binaries.dir.join(program));
        // The server reads PGPORT and friends as defaults; the cluster's own settings say everything.
        for variable in ["PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGPASSWORD"] {
            command.env_remove(variable);
        }
        command.env("LC_MESSAGES", "C");
        if let Some(account) = self.account {
            // The working directory may be one the account cannot enter.
            command.uid(account.uid).gid(account.gid).current_dir("/");
        }
        command
    }

    fn run(&self, program: &str, arguments: impl FnOnce(&mut Command) -> &mut Command) -> anyhow::Result<Output> {
        let mut command = self.command(program);
        arguments(&mut command);
        command.output().with_context(|| format!("could not run {}", self.binaries.dir.join(program).display()))
    }

    /// `initdb`: UTF-8, trust authentication, the `postgres` superuser. The locale is C.UTF-8 where the system
    /// has it (sorting by code point, Unicode case mapping), else en_US.UTF-8, else plain C.
    fn create(&self) -> anyhow::Result<()> {
        if let Ok(mut entries) = fs::read_dir(&self.data_dir)
            && entries.next().is_some()
        {
            bail!(
                "CIVICDESK_DATA_DIR={} is not empty and holds no PostgreSQL cluster (no PG_VERSION): \
                 point CIVICDESK_DATA_DIR at an empty or new directory",
                self.data_dir.display()
            );
        }
        // initdb writes PG_VERSION first: an initdb killed halfway must not leave a directory that looks like a
        // cluster. It runs in a sibling directory, renamed into place once complete (under the start lock). An
        // empty directory that exists already (a mounted volume, say) is initialised in place.
        let in_place = self.data_dir.exists();
        let building = match in_place {
            true => self.data_dir.clone(),
            false => self.data_dir.with_file_name(format!(
                "{}.initdb",
                self.data_dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
            )),
        };
        if !in_place && building.exists() {
            fs::remove_dir_all(&building)
                .with_context(|| format!("could not remove the unfinished {}", building.display()))?;
        }
        self.own_directory(&building, true)?;
        let mut last = None;
        for locale in ["--locale=C.UTF-8", "--locale=en_US.UTF-8", "--no-locale"] {
            let output = self.run("initdb", |c| {
                c.arg("-D").arg(&building).args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", locale])
            })?;
            if output.status.success() {
                if !in_place {
                    fs::rename(&building, &self.data_dir)
                        .with_context(|| format!("could not move the new cluster to {}", self.data_dir.display()))?;
                }
                tracing::info!(data_dir = %self.data_dir.display(), locale, "created a PostgreSQL cluster");
                return Ok(());
            }
            last = Some(output);
        }
        if !in_place {
            let _ = fs::remove_dir_all(&building);
        }
        match last {
            Some(output) => check(&output, "initdb"),
            None => Ok(()),
        }
    }

    /// Creates `dir` (mode 0700; with `recursive`, its parents too, and an existing `dir` is fine) and hands it to
    /// the cluster's account.
    fn own_directory(&self, dir: &Path, recursive: bool) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(recursive)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        if let Some(account) = self.account {
            check_reachable(dir, account)?;
            std::os::unix::fs::lchown(dir, Some(account.uid), Some(account.gid))
                .with_context(|| format!("could not hand {} to uid {}", dir.display(), account.uid))?;
        }
        Ok(())
    }

    /// Writes `civicdesk.conf` (socket only, no TCP; the tests' speed settings) and includes it from
    /// `postgresql.conf` once.
    fn write_settings(&self, disposable: bool) -> anyhow::Result<()> {
        if self.socket_dir != self.data_dir {
            self.check_socket_dir()?;
        }
        let socket = self.socket_dir.to_string_lossy().replace('\'', "''");
        let mut settings = format!(
            "# Written by civicdesk at every start; edit postgresql.conf instead.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = '{socket}'\n\
             unix_socket_permissions = 0700\n"
        );
        if disposable {
            settings.push_str(
                "# A throw-away cluster (tests): nothing is flushed to disk.\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 300\n",
            );
        }
        let path = self.data_dir.join(SETTINGS_FILE);
        fs::write(&path, settings).with_context(|| format!("could not write {}", path.display()))?;
        if let Some(account) = self.account {
            std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid))?;
        }
        let main = self.data_dir.join("postgresql.conf");
        let current = fs::read_to_string(&main).with_context(|| format!("could not read {}", main.display()))?;
        let include = format!("include_if_exists = '{SETTINGS_FILE}'");
        if !current.lines().any(|line| line.trim() == include) {
            fs::write(&main, format!("{current}\n# civicdesk's settings (the socket, no TCP port)\n{include}\n"))
                .with_context(|| format!("could not write {}", main.display()))?;
        }
        Ok(())
    }

    /// Waits until the server takes connections: one found running may still be starting (its starter was
    /// killed), or shutting down (a peer's stop timed out), in which case it is started again once it is down.
    fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        use diesel::Connection;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let refused = match diesel::PgConnection::establish(&self.database_url("postgres")) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if !self.is_running()? {
                self.start()?;
                self.started_here = true;
                continue;
            }
            if std::time::Instant::now() > deadline {
                bail!("the embedded PostgreSQL in {} does not take connections: {refused}", self.data_dir.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// A socket directory outside the data directory (in the shared temporary directory) must be the cluster's
    /// own: created here, or found owned by the cluster's account and closed to everyone else.
    fn check_socket_dir(&self) -> anyhow::Result<()> {
        // Not recursive: in the shared temporary directory, a directory (or link) someone else made first is refused.
        let Ok(metadata) = fs::symlink_metadata(&self.socket_dir) else {
            return self.own_directory(&self.socket_dir, false);
        };
        let owner = match self.account {
            Some(account) => account.uid,
            None => fs::metadata(&self.data_dir)?.uid(),
        };
        if !metadata.is_dir() || metadata.uid() != owner || metadata.mode() & 0o077 != 0 {
            bail!(
                "the socket directory {} is not the embedded cluster's own (another owner, or open to others); \
                 remove it, or use a data directory with a shorter path, which keeps the socket inside it",
                self.socket_dir.display()
            );
        }
        Ok(())
    }

    fn is_running(&self) -> anyhow::Result<bool> {
        let output = self.run("pg_ctl", |c| c.arg("status").arg("-D").arg(&self.data_dir))?;
        // 0: running; 3: not running; 4: no accessible data directory.
        match output.status.code() {
            Some(0) => Ok(true),
            Some(3) => Ok(false),
            _ => check(&output, "pg_ctl status").map(|()| false),
        }
    }

    fn start(&self) -> anyhow::Result<()> {
        let log = self.data_dir.join("server.log");
        let output = self.run("pg_ctl", |c| {
            c.arg("start").arg("-D").arg(&self.data_dir).arg("-l").arg(&log).args(["-w", "-t", "120"])
        })?;
        if let Err(error) = check(&output, "pg_ctl start") {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(error.context(format!("the server log {} ends with: {}", log.display(), tail.join(" | "))));
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.let_go() {
            tracing::warn!(error = %format!("{error:#}"), "could not stop the embedded PostgreSQL");
        }
    }
}

fn lock_file(path: &Path) -> anyhow::Result<File> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("could not open {}", path.display()))
}

fn check(output: &Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let said = if stderr.trim().is_empty() { stdout.trim() } else { stderr.trim() };
    bail!("{what} failed ({}): {said}", output.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_major_version() {
        assert_eq!(parse_major("pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"), Some(15));
        assert_eq!(parse_major("pg_ctl (PostgreSQL) 17.2\n"), Some(17));
        assert_eq!(parse_major("pg_ctl (PostgreSQL) 18beta1"), Some(18));
        assert_eq!(parse_major("something else"), None);
        assert_eq!(parse_major(""), None);
    }

    #[test]
    fn urls_name_the_socket_port_and_user() {
        let url = socket_url(Path::new("/srv/civic desk/postgres"), "civicdesk");
        assert_eq!(
            url,
            "postgres:///civicdesk?host=%2Fsrv%2Fcivic%20desk%2Fpostgres&port=5432&user=postgres&sslmode=disable\
             &gssencmode=disable"
        );
        let (server, name) = crate::db::split_database_url(&url).unwrap();
        assert_eq!((server.as_str(), name.as_str()), ("postgres://", "civicdesk"));
    }

    #[test]
    fn long_data_directories_get_a_short_socket_directory() {
        let short = Path::new("/home/ana/civicdesk/civicdesk-data/postgres");
        assert_eq!(socket_dir(short), short);
        let long = PathBuf::from(format!("/home/ana/{}/postgres", "deep/".repeat(20)));
        let socket = socket_dir(&long);
        assert!(socket.starts_with(std::env::temp_dir()) && socket.as_os_str().len() <= LONGEST_SOCKET_DIR);
        assert_eq!(socket, socket_dir(&long), "the same directory for every process");
    }

    #[test]
    fn missing_binaries_say_what_to_install() {
        let empty = std::env::temp_dir().join(format!("civicdesk-no-pg-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&empty).unwrap();
        let error = format!("{:#}", pick_binaries(std::slice::from_ref(&empty), None, false).unwrap_err());
        for needed in ["apt-get install postgresql", "brew install postgresql@17", "DATABASE_URL", "POSTGRES_BIN_DIR"] {
            assert!(error.contains(needed), "{needed:?} missing from: {error}");
        }
        let named = format!("{:#}", find_binaries(Some(&empty), None).unwrap_err());
        assert!(named.contains("POSTGRES_BIN_DIR=") && named.contains("apt-get install postgresql"), "{named}");
        fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn candidates_keep_path_order_then_newest_versions() {
        let root = std::env::temp_dir().join(format!("civicdesk-pg-roots-{}", uuid::Uuid::new_v4().simple()));
        for version in ["13", "17", "9.6", "latest"] {
            fs::create_dir_all(root.join(version).join("bin")).unwrap();
        }
        let root_text = root.to_string_lossy().into_owned();
        let path = std::env::join_paths(["/opt/a", "/opt/b", "/opt/a"]).unwrap();
        let dirs = candidate_dirs(Some(&path), Some(PathBuf::from("/opt/c")), &[(&root_text, "", "bin")]);
        let expected: Vec<PathBuf> = ["/opt/a", "/opt/b", "/opt/c"]
            .into_iter()
            .map(PathBuf::from)
            .chain(["17", "13", "9.6"].into_iter().map(|v| root.join(v).join("bin")))
            .collect();
        assert_eq!(dirs, expected);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn paths_the_tools_cannot_take_are_refused() {
        assert!(check_path_characters(Path::new("/srv/civic desk/Ärzte/postgres")).is_ok());
        for bad in ["/srv/a,b/postgres", "/srv/a\"b", "/srv/$HOME", "/srv/`x`", "/srv/a\\b", "/srv/a\nb", "/srv/it's"] {
            let error = check_path_characters(Path::new(bad)).unwrap_err().to_string();
            assert!(error.contains("CIVICDESK_DATA_DIR"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_root_error_names_the_fix() {
        let message = no_account_message();
        assert!(message.contains("useradd") && message.contains("DATABASE_URL") && message.contains("root"));
    }
}
