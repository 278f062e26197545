extension BlockingEventJSON {
  /// The event as one line of compact JSON with sorted keys (without the newline): byte for byte
  /// what `WireJSON.encode` gives, written directly because Foundation's encoder was most of the
  /// event processor's time.
  public var jsonLine: String {
    var out = JSONText()
    out.object { object in
      object.field("comm") { $0.string(comm) }
      object.field("durationNs") { $0.number(durationNs) }
      if let frames {
        object.field("frames") { value in
          value.array(frames) { value, frame in
            value.object { object in
              object.field("address") { $0.string(frame.address) }
              if let function = frame.function { object.field("function") { $0.string(function) } }
              if let module = frame.module { object.field("module") { $0.string(module) } }
              object.field("offset") { $0.number(frame.offset) }
            }
          }
        }
      }
      if let futex {
        object.field("futex") { value in
          value.object { object in
            object.field("op") { $0.string(futex.op) }
            object.field("outcome") { $0.string(futex.outcome) }
            object.field("uaddr") { $0.string(futex.uaddr) }
          }
        }
      }
      if let goroutine { object.field("goroutine") { $0.number(goroutine) } }
      object.field("kind") { $0.string(kind) }
      object.field("pid") { $0.number(pid) }
      object.field("stack") { $0.array(stack) { $0.string($1) } }
      if let state { object.field("state") { $0.string(state) } }
      object.field("tid") { $0.number(tid) }
      object.field("time") { $0.string(time) }
      if let waker {
        object.field("waker") { value in
          value.object { object in
            object.field("comm") { $0.string(waker.comm) }
            object.field("pid") { $0.number(waker.pid) }
            object.field("tid") { $0.number(waker.tid) }
          }
        }
      }
    }
    return out.text
  }
}

/// A small JSON writer over UTF-8 bytes, with Foundation's escaping (`/` unescaped, non-ASCII
/// kept as is).
struct JSONText {
  private(set) var bytes: [UInt8] = []

  init() { bytes.reserveCapacity(512) }

  var text: String { String(decoding: bytes, as: UTF8.self) }

  mutating func string(_ value: String) { Self.appendString(value, to: &bytes) }

  /// Appends `value` as a JSON string: `"` and `\` escaped, control characters as `\n`, `\r`,
  /// `\t`, `\b`, `\f` or `\u00XX` (as Foundation writes them), everything else as it is.
  private static func appendString(_ value: String, to bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "\""))
    var value = value
    value.withUTF8 { utf8 in
      var runStart = 0
      while true {
        let index = JSONStringScan.firstSpecial(in: utf8, from: runStart)
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        guard index < utf8.count else { break }
        runStart = index + 1
        let byte = utf8[index]
        switch byte {
        case 0x22: bytes.append(contentsOf: [0x5C, 0x22])  // \"
        case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])  // \\
        case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        default:
          let hex = Array("0123456789abcdef".utf8)
          bytes.append(contentsOf: [
            0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)],
            hex[Int(byte & 0xF)],
          ])
        }
      }
    }
    bytes.append(UInt8(ascii: "\""))
  }

  mutating func number<T: BinaryInteger>(_ value: T) {
    bytes.append(contentsOf: String(value).utf8)
  }

  mutating func array<T>(_ items: [T], _ body: (inout JSONText, T) -> Void) {
    bytes.append(UInt8(ascii: "["))
    for (index, item) in items.enumerated() {
      if index > 0 { bytes.append(UInt8(ascii: ",")) }
      body(&self, item)
    }
    bytes.append(UInt8(ascii: "]"))
  }

  mutating func object(_ body: (inout Fields) -> Void) {
    var fields = Fields(json: self)
    bytes = []
    fields.json.bytes.append(UInt8(ascii: "{"))
    body(&fields)
    fields.json.bytes.append(UInt8(ascii: "}"))
    self = fields.json
  }

  /// The fields of an object being written, in the order given (callers sort them).
  struct Fields {
    var json: JSONText
    private var count = 0

    init(json: JSONText) { self.json = json }

    mutating func field(_ name: String, _ value: (inout JSONText) -> Void) {
      if count > 0 { json.bytes.append(UInt8(ascii: ",")) }
      count += 1
      json.string(name)
      json.bytes.append(UInt8(ascii: ":"))
      value(&json)
    }
  }
}
