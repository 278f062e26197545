/// Why a thread slept when it left the CPU.
public enum SleepState: String, Sendable, Codable {
  case interruptible
  case uninterruptible

  init?(kernelState: UInt32) {
    switch kernelState {
    case 1: self = .interruptible
    case 2: self = .uninterruptible
    default: return nil
    }
  }
}

/// The kind of a blocking episode.
public enum BlockingKind: String, Sendable, Codable, CaseIterable {
  /// The thread was off CPU, asleep, for longer than the threshold.
  case offcpu
  /// The thread waited in a futex syscall for longer than the threshold.
  case futex
}

/// The thread that woke a sleeping thread.
public struct Waker: Sendable, Equatable {
  public var pid: Int32
  public var tid: Int32
  public var comm: String
}

/// A futex wait, as the syscall saw it.
public struct FutexWait: Sendable, Equatable {
  /// How the wait ended.
  public enum Outcome: String, Sendable, Codable {
    case woken, timedOut, interrupted, error
  }

  public var address: UInt64
  /// The futex(2) `op` argument, or the flags of futex_waitv/futex_wait.
  public var operation: UInt32
  public var syscall: FutexSyscall
  public var returnValue: Int32
  public var outcome: Outcome

  /// The operation as futex.h names it, e.g. `FUTEX_WAIT_PRIVATE`.
  public var operationName: String { syscall.describe(operation: operation) }
}

/// A blocking episode of one thread of a targeted process.
public struct BlockingEpisode: Sendable, Equatable {
  public var kind: BlockingKind
  public var pid: Int32
  public var tid: Int32
  public var targetID: UInt32
  public var comm: String
  /// CLOCK_MONOTONIC nanoseconds at which the episode began.
  public var startMonotonicNanoseconds: UInt64
  public var durationNanoseconds: UInt64
  /// Off-CPU episodes: how the thread slept.
  public var state: SleepState?
  public var waker: Waker?
  /// Futex episodes: the wait.
  public var futex: FutexWait?
  /// Go processes: the goroutine the thread was running, read from its TLS when the record
  /// was written; nil when it ran none (the scheduler's own g0) or the process is not a Go
  /// process the probes were told about.
  public var goroutine: Int64?
  /// User-space return addresses, innermost first.
  public var stack: [UInt64]
  /// The errno when the kernel could not read the stack.
  public var stackError: Int32?
}

/// One record from the blocking probes' ring buffer.
public enum ProbeRecord: Sendable, Equatable {
  case blocking(BlockingEpisode)
  /// A process called exec; user space decides whether it is a target.
  case exec(pid: Int32, comm: String)
  /// A targeted process exited and left the kernel's target set.
  case exit(pid: Int32, targetID: UInt32, comm: String)
}
