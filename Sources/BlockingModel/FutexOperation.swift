/// Which futex syscall a wait came from.
public enum FutexSyscall: UInt32, Sendable {
  case futex = 0
  case futexWaitv = 1
  case futexWait = 2

  /// Names the operation argument the way futex.h spells it.
  public func describe(operation: UInt32) -> String {
    switch self {
    case .futex: return FutexSyscall.futexOperationName(operation)
    case .futexWaitv: return "futex_waitv"
    case .futexWait: return "futex_wait"
    }
  }

  private static let commands: [UInt32: String] = [
    0: "FUTEX_WAIT", 1: "FUTEX_WAKE", 2: "FUTEX_FD", 3: "FUTEX_REQUEUE", 4: "FUTEX_CMP_REQUEUE",
    5: "FUTEX_WAKE_OP", 6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI", 8: "FUTEX_TRYLOCK_PI",
    9: "FUTEX_WAIT_BITSET", 10: "FUTEX_WAKE_BITSET", 11: "FUTEX_WAIT_REQUEUE_PI",
    12: "FUTEX_CMP_REQUEUE_PI", 13: "FUTEX_LOCK_PI2",
  ]

  /// `FUTEX_WAIT_PRIVATE`, `FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`, ...
  static func futexOperationName(_ operation: UInt32) -> String {
    let privateFlag: UInt32 = 128
    let realtimeFlag: UInt32 = 256
    let command = operation & 127
    var name = commands[command] ?? "FUTEX_OP_\(command)"
    if operation & privateFlag != 0 { name += "_PRIVATE" }
    if operation & realtimeFlag != 0 { name += "|FUTEX_CLOCK_REALTIME" }
    return name
  }
}
