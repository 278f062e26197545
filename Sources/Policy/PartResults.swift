/// The results of work split into parts run by `DispatchQueue.concurrentPerform`: each part's
/// thread sets its own result once; they are read after every part is done.
final class PartResults<Value: Sendable>: @unchecked Sendable {
  private var results: [Value?]

  init(count: Int) { results = Array(repeating: nil, count: count) }

  /// Sets part `part`'s result, from the thread that ran it.
  func set(_ part: Int, _ value: Value) {
    results.withUnsafeMutableBufferPointer { $0[part] = value }
  }

  /// Part `part`'s result, once every part is done.
  func get(_ part: Int) -> Value { results[part]! }
}
