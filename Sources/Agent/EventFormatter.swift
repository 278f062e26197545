import BlockingModel
import ControlAPI
import Foundation
import Symbolization

/// Turns decoded episodes into the documented JSON event schema.
public struct EventFormatter: Sendable {
  public init() {}

  /// The event for `episode`, with its stack already symbolized into `frames`.
  /// `wallClockOffset` is CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds.
  public func event(for episode: BlockingEpisode, frames: [Frame], wallClockOffset: Int64)
    -> BlockingEventJSON
  {
    event(for: episode, stack: render(frames), wallClockOffset: wallClockOffset)
  }

  /// The event for `episode`, with its stack already rendered.
  func event(
    for episode: BlockingEpisode, stack: SharedStack.Rendering, wallClockOffset: Int64
  )
    -> BlockingEventJSON
  {
    let wallNanoseconds = Int64(bitPattern: episode.startMonotonicNanoseconds) &+ wallClockOffset
    return BlockingEventJSON(
      time: RFC3339.format(
        seconds: wallNanoseconds / 1_000_000_000,
        nanoseconds: UInt32(wallNanoseconds % 1_000_000_000)),
      kind: episode.kind.rawValue,
      pid: episode.pid,
      tid: episode.tid,
      comm: episode.comm,
      durationNs: episode.durationNanoseconds,
      state: episode.state?.rawValue,
      waker: episode.waker.map { .init(pid: $0.pid, tid: $0.tid, comm: $0.comm) },
      futex: episode.futex.map {
        .init(
          uaddr: hexadecimal($0.address), op: $0.operationName,
          outcome: $0.outcome.rawValue)
      },
      goroutine: episode.goroutine,
      stack: stack.stack,
      frames: stack.frames)
  }

  /// A symbolized stack as events carry it: names, and frames with addresses.
  func render(_ frames: [Frame]) -> SharedStack.Rendering {
    SharedStack.Rendering(
      stack: frames.map { $0.function ?? Self.unnamed($0) },
      frames: frames.map {
        .init(
          address: hexadecimal($0.address), function: $0.function, offset: $0.offset,
          module: $0.module)
      })
  }

  /// One JSON line (without the newline).
  public func line(_ event: BlockingEventJSON) -> String { event.jsonLine }

  /// How a frame without a symbol is named in `stack`: `module+0xoffset` or the address.
  static func unnamed(_ frame: Frame) -> String {
    guard let module = frame.module else { return hexadecimal(frame.address) }
    let name = module.split(separator: "/").last.map(String.init) ?? module
    return name + "+" + hexadecimal(frame.offset)
  }

  /// CLOCK_REALTIME - CLOCK_MONOTONIC now, in nanoseconds.
  public static func wallClockOffset() -> Int64 {
    var realtime = timespec()
    var monotonic = timespec()
    clock_gettime(CLOCK_REALTIME, &realtime)
    clock_gettime(CLOCK_MONOTONIC, &monotonic)
    let real = Int64(realtime.tv_sec) * 1_000_000_000 + Int64(realtime.tv_nsec)
    let mono = Int64(monotonic.tv_sec) * 1_000_000_000 + Int64(monotonic.tv_nsec)
    return real - mono
  }
}

/// `0x` and the lowercase hex digits of `value`, as `String(value, radix: 16)` writes them but
/// without its generic machinery (this runs for every frame of every event).
func hexadecimal(_ value: UInt64) -> String {
  let digits: [UInt8] = Array("0123456789abcdef".utf8)
  var bytes = [UInt8](repeating: 0, count: 18)
  var index = 18
  var rest = value
  repeat {
    index -= 1
    bytes[index] = digits[Int(rest & 0xF)]
    rest >>= 4
  } while rest != 0
  bytes[index - 2] = UInt8(ascii: "0")
  bytes[index - 1] = UInt8(ascii: "x")
  return String(decoding: bytes[(index - 2)...], as: UTF8.self)
}
