/// One blocking episode: the event log schema, and one line of `GET /v1/events`.
public struct BlockingEventJSON: Codable, Sendable, Equatable {
  /// When the thread blocked, RFC 3339 UTC with nanoseconds.
  public var time: String
  /// `offcpu` or `futex`; see ``EventKind``.
  public var kind: String
  /// The blocked thread's process id.
  public var pid: Int32
  /// The blocked thread's id.
  public var tid: Int32
  /// The blocked thread's name.
  public var comm: String
  /// How long the thread was blocked.
  public var durationNs: UInt64
  /// The scheduler state while off CPU: `interruptible`, `uninterruptible`, ...
  public var state: String?
  /// The thread that woke it, when known.
  public var waker: Waker?
  /// Futex details, for `futex` events.
  public var futex: FutexInfo?
  /// For Go processes: the goroutine the thread was running, read in the kernel from its TLS.
  public var goroutine: Int64?
  /// Function names of the blocked stack, innermost first.
  public var stack: [String]
  /// The blocked stack with addresses, innermost first, when requested.
  public var frames: [FrameJSON]?

  /// Creates an event; the optional details default to absent and the stack to empty.
  public init(
    time: String, kind: String, pid: Int32, tid: Int32, comm: String, durationNs: UInt64,
    state: String? = nil, waker: Waker? = nil, futex: FutexInfo? = nil, goroutine: Int64? = nil,
    stack: [String] = [], frames: [FrameJSON]? = nil
  ) {
    self.time = time
    self.kind = kind
    self.pid = pid
    self.tid = tid
    self.comm = comm
    self.durationNs = durationNs
    self.state = state
    self.waker = waker
    self.futex = futex
    self.goroutine = goroutine
    self.stack = stack
    self.frames = frames
  }

  /// The thread that ended a block.
  public struct Waker: Codable, Sendable, Equatable {
    /// The waking thread's process id.
    public var pid: Int32
    /// The waking thread's id.
    public var tid: Int32
    /// The waking thread's name.
    public var comm: String

    /// Creates a waker.
    public init(pid: Int32, tid: Int32, comm: String) {
      self.pid = pid
      self.tid = tid
      self.comm = comm
    }
  }

  /// What a futex wait was on and how it ended.
  public struct FutexInfo: Codable, Sendable, Equatable {
    /// The futex word's user address, hex `0x...`.
    public var uaddr: String
    /// The operation, e.g. `FUTEX_WAIT_PRIVATE`.
    public var op: String
    /// `woken`, `timedOut`, `interrupted` or `error`.
    public var outcome: String

    /// Creates futex details.
    public init(uaddr: String, op: String, outcome: String) {
      self.uaddr = uaddr
      self.op = op
      self.outcome = outcome
    }
  }

  /// One symbolized stack frame.
  public struct FrameJSON: Codable, Sendable, Equatable {
    /// The instruction address, hex `0x...`.
    public var address: String
    /// The enclosing function, if symbolized.
    public var function: String?
    /// Offset of ``address`` from the function's start (or the module's, if no function).
    public var offset: UInt64
    /// The mapped file the address falls in.
    public var module: String?

    /// Creates a frame.
    public init(address: String, function: String? = nil, offset: UInt64 = 0, module: String? = nil)
    {
      self.address = address
      self.function = function
      self.offset = offset
      self.module = module
    }
  }
}
