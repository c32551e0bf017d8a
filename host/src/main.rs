//! The `certwasm` binary.

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc. The controllers and the embedded API
/// allocate many short-lived JSON values from many threads; under glibc,
/// malloc and free were about a third of the CPU in the lifecycle benchmark
/// and freed memory stayed fragmented in per-thread arenas (resident memory
/// grew with the number of objects ever handled, not those alive).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (15 in mimalloc 2
/// and 3). libmimalloc-sys names its neighbours but not it, so it is found
/// by position, and the assertion below fails the build if a mimalloc
/// release inserts an option between them.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;
const _: () = assert!(
    libmimalloc_sys::mi_option_reserve_os_memory + 6 == MI_OPTION_PURGE_DELAY,
    "mimalloc's option list changed: check mi_option_purge_delay"
);

/// Returns freed pages to the OS as soon as they are free. mimalloc 3
/// delays the purge (1 s, 10 s for arenas) and performs it on a later
/// allocation in the same thread; a worker that goes idle after a burst
/// never gets there, so `certwasm run` kept the burst's memory: at
/// 10,000 Certificates, 555 MiB resident at rest against 436 MiB with
/// immediate purging, which was no slower in the lifecycle benchmark.
fn purge_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores the value; the option is read on
    // each purge, and this runs before any thread but main exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Raises the soft limit on open files to the hard limit, as the Go
/// runtime does for every Go program (kube-apiserver among them): each
/// watch holds a connection, and the usual soft limit (1,024) would cap
/// `certwasm run` at about a thousand watchers while the hard limit allows
/// far more. Failing to raise it is not fatal; the server then runs with
/// what it has.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn main() -> std::process::ExitCode {
    purge_freed_memory_at_once();
    raise_open_file_limit();
    let cli = certwasm::cli::Cli::parse();
    if cli.prints_and_exits() {
        // SAFETY: restoring the default disposition of one signal, before
        // any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let filter = EnvFilter::try_new(cli.log_filter()).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match certwasm::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
