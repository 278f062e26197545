import Foundation

/// A child process started with `posix_spawn`, in its own process group so that a
/// terminal's Ctrl-C reaches only vigil-bench, which then stops its children in order.
final class Subprocess: @unchecked Sendable {
  // Unchecked: `status` is guarded by `lock`; the rest is immutable.
  let pid: pid_t
  let name: String
  private let lock = NSLock()
  private var status: Int32?
  private var usage: Double?

  /// Starts `path` with `arguments`; stdin is /dev/null, stdout and stderr go to
  /// the given files (or /dev/null). Unless `tracked` is false (for cleanup's own
  /// helpers), the child is stopped at cleanup.
  init(
    _ path: String, _ arguments: [String], stdout: String? = nil, stderr: String? = nil,
    tracked: Bool = true
  ) throws(BenchError) {
    name = (path as NSString).lastPathComponent
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let output = O_WRONLY | O_CREAT | O_TRUNC
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", output, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", output, 0o644)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Own process group; default SIGINT/SIGTERM (this process handles them itself); no blocked signals.
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGINT)
    sigaddset(&defaults, SIGTERM)
    var mask = sigset_t()
    sigemptyset(&mask)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setsigmask(&attributes, &mask)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
      &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var child: pid_t = 0
    let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
    guard result == 0 else { throw BenchError.system("cannot start \(path)", errno: result) }
    pid = child
    if tracked { Cleanup.shared.adopt(self) }
  }

  /// The exit status once it has ended (128 + signal when killed), nil while it runs.
  var exitStatus: Int32? { reap().status }

  /// User plus system CPU time of the whole process (all its threads), once it has ended.
  var cpuSeconds: Double? { reap().cpu }

  private func reap() -> (status: Int32?, cpu: Double?) {
    lock.withLock {
      if status == nil {
        var raw: Int32 = 0
        var resources = rusage()
        let result = wait4(pid, &raw, WNOHANG, &resources)
        if result == pid {
          status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
          usage = resources.ru_utime.seconds + resources.ru_stime.seconds
        } else if result < 0 {
          status = -1
        }
      }
      return (status, usage)
    }
  }

  var isRunning: Bool { exitStatus == nil }

  /// Waits up to `timeout` seconds for it to end; returns its exit status, nil on timeout.
  func wait(timeout: TimeInterval, interval: TimeInterval = 0.02) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if let status = exitStatus { return status }
      if Date() >= deadline { return nil }
      Thread.sleep(forTimeInterval: interval)
    }
  }

  /// Sends `signal` if it still runs.
  func send(_ signal: Int32) {
    if isRunning { kill(pid, signal) }
  }

  /// Sends `signal` (and SIGCONT, in case it is stopped), waits up to `grace`
  /// seconds, then kills it. Returns its exit status.
  @discardableResult
  func stop(_ signal: Int32 = SIGTERM, grace: TimeInterval = 5) -> Int32 {
    send(signal)
    send(SIGCONT)
    if let status = wait(timeout: grace) { return status }
    Progress.say(
      "\(name) (pid \(pid)) did not stop on signal \(signal) within \(grace) s: killing it")
    send(SIGKILL)
    return wait(timeout: 5) ?? -1
  }
}

extension timeval {
  var seconds: Double { Double(tv_sec) + Double(tv_usec) / 1_000_000 }
}
