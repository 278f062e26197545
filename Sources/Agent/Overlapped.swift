import Dispatch

/// Work started on another thread when created, and waited for with `join()`: lets the policy
/// path write and diff while the maps fill.
final class Overlapped<T: Sendable>: Sendable {
  private let done = DispatchSemaphore(value: 0)
  private let result = LockedValue<Result<T, any Error>?>(nil)

  /// Starts `body` on a global queue.
  init(_ body: @escaping @Sendable () throws -> T) {
    DispatchQueue.global(qos: .userInitiated).async { [self] in
      let outcome = Result(catching: body)
      result.withLock { $0 = outcome }
      done.signal()
    }
  }

  /// Waits for the work and returns its result or throws its error.
  func join() throws -> T {
    done.wait()
    done.signal()  // for the next join
    return try result.value!.get()
  }
}
