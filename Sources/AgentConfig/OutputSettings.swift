/// Where recorded events are written, and how.
public struct OutputSettings: Sendable, Equatable, Codable {
  /// Destination of the event stream.
  public var events: EventSink
  /// Encoding of each event.
  public var format: EventFormat

  /// Creates output settings; the defaults are those of a file that leaves `output` out.
  public init(events: EventSink = .stdout, format: EventFormat = .json) {
    self.events = events
    self.format = format
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["events", "format"])
    if let events = fields["events"] {
      self.events = try events.parsed(
        EventSink.init, else: "is not stdout, none or an absolute file path")
    }
    if let format = fields["format"] {
      let names = EventFormat.allCases.map(\.rawValue).joined(separator: ", ")
      self.format = try format.parsed(
        EventFormat.init(rawValue:), else: "is not an event format (use \(names))")
    }
  }
}

/// Destination of the event stream; written as `stdout`, `none` or an absolute file path.
public enum EventSink: Sendable, Hashable, Codable, LosslessStringConvertible {
  /// The daemon's standard output (the journal under systemd, the container log under Kubernetes).
  case stdout
  /// Events are not written; they are still counted and served on the control socket.
  case discard
  /// Appended to the file at this absolute path.
  case file(String)

  /// Parses `stdout`, `none` or an absolute path.
  public init?(_ description: String) {
    switch description {
    case "stdout": self = .stdout
    case "none": self = .discard
    case let path where path.hasPrefix("/") && path.count > 1: self = .file(path)
    default: return nil
    }
  }

  /// `stdout`, `none` or the file path.
  public var description: String {
    switch self {
    case .stdout: "stdout"
    case .discard: "none"
    case .file(let path): path
    }
  }

  /// Decodes the text form.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let sink = EventSink(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "\"\(text)\" is not stdout, none or an absolute file path")
    }
    self = sink
  }

  /// Encodes the text form.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

/// Encoding of recorded events.
public enum EventFormat: String, Sendable, Hashable, Codable, CaseIterable {
  /// One JSON object per line.
  case json
}
