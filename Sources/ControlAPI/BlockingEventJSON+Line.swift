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

/// A small JSON writer with Foundation's escaping (`/` unescaped, UTF-8 kept as is).
struct JSONText {
  private(set) var text = ""

  mutating func string(_ value: String) {
    text.append("\"")
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": text.append("\\\"")
      case "\\": text.append("\\\\")
      case "\n": text.append("\\n")
      case "\r": text.append("\\r")
      case "\t": text.append("\\t")
      case "\u{08}": text.append("\\b")
      case "\u{0C}": text.append("\\f")
      case let control where control.value < 0x20:
        let hex = String(control.value, radix: 16)
        text.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
      default: text.unicodeScalars.append(scalar)
      }
    }
    text.append("\"")
  }

  mutating func number<T: BinaryInteger>(_ value: T) { text.append(String(value)) }

  mutating func array<T>(_ items: [T], _ body: (inout JSONText, T) -> Void) {
    text.append("[")
    for (index, item) in items.enumerated() {
      if index > 0 { text.append(",") }
      body(&self, item)
    }
    text.append("]")
  }

  mutating func object(_ body: (inout Fields) -> Void) {
    var fields = Fields(json: self)
    text = ""
    fields.json.text.append("{")
    body(&fields)
    fields.json.text.append("}")
    self = fields.json
  }

  /// The fields of an object being written, in the order given (callers sort them).
  struct Fields {
    var json: JSONText
    private var count = 0

    init(json: JSONText) { self.json = json }

    mutating func field(_ name: String, _ value: (inout JSONText) -> Void) {
      if count > 0 { json.text.append(",") }
      count += 1
      json.string(name)
      json.text.append(":")
      value(&json)
    }
  }
}
