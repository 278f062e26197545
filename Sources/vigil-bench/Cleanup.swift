import Foundation

/// Everything vigil-bench must undo: its children, the pinned probes and its
/// working directory; run at the end, on failure, and on SIGINT/SIGTERM.
final class Cleanup: @unchecked Sendable {
  // Unchecked: every field is guarded by `lock`.
  static let shared = Cleanup()

  private let lock = NSLock()
  /// Held for a whole run, so a second caller (a signal) waits until cleanup is done.
  private let runLock = NSLock()
  private var children: [Subprocess] = []
  private var actions: [() -> Void] = []
  private var finished = false

  /// Tracks a child to stop at cleanup; a child started after cleanup began is killed at once.
  func adopt(_ child: Subprocess) {
    let late = lock.withLock {
      children.removeAll { !$0.isRunning }
      children.append(child)
      return finished
    }
    if late { child.stop(SIGKILL, grace: 1) }
  }

  /// Runs `action` at cleanup, after the children are stopped, most recent first.
  func atCleanup(_ action: @escaping () -> Void) {
    lock.withLock { actions.append(action) }
  }

  /// Stops the children (vigild and tracers gracefully, the rest at once) and runs the actions. Runs once.
  func run() {
    runLock.lock()
    defer { runLock.unlock() }
    let (children, actions) = lock.withLock {
      defer {
        finished = true
        self.children = []
        self.actions = []
      }
      return finished ? ([], []) : (self.children, self.actions)
    }
    for child in children.reversed() where child.isRunning {
      let gentle = child.name == "vigild" || child.name == "offcputime"
      child.stop(gentle ? SIGTERM : SIGKILL, grace: gentle ? 5 : 1)
    }
    for action in actions.reversed() { action() }
  }

  /// On SIGINT or SIGTERM: clean up and exit with 128 + the signal. Call before any
  /// other thread starts: the signals are blocked (threads inherit that) and taken by sigwait.
  func installSignalHandlers() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGINT)
    sigaddset(&signals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    let watched = signals
    let watcher = Thread { [self] in
      var set = watched
      var number: Int32 = 0
      guard sigwait(&set, &number) == 0 else { return }
      Progress.say("signal \(number): cleaning up")
      run()
      exit(128 + number)
    }
    watcher.start()
  }
}
