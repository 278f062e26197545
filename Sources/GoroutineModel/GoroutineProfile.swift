/// Writes a pprof goroutine profile (`profile.proto`, uncompressed, which `go tool pprof`
/// reads): sample type `goroutine/count`, one sample per group valued at its count, with the
/// group's representative stack.
public enum GoroutineProfile {
  /// The encoded profile of `groups` taken at `time`. Frames without a function are named by
  /// their address.
  public static func encode(groups: [GoroutineGroup], time: SnapshotTime) -> [UInt8] {
    var strings: [String] = [""]
    var stringIndex: [String: Int64] = ["": 0]
    func string(_ value: String) -> Int64 {
      if let index = stringIndex[value] { return index }
      strings.append(value)
      stringIndex[value] = Int64(strings.count - 1)
      return Int64(strings.count - 1)
    }
    struct FunctionKey: Hashable {
      var name: String
      var file: String
    }
    var functions: [FunctionKey: UInt64] = [:]
    var functionOrder: [FunctionKey] = []
    var locations: [UInt64: (function: UInt64, line: Int64)] = [:]
    var locationOrder: [UInt64] = []
    var locationIDs: [UInt64: UInt64] = [:]
    var samples: [(locations: [UInt64], count: Int64, labels: [(String, String)])] = []

    for group in groups where group.count > 0 {
      var ids: [UInt64] = []
      for frame in group.stack {
        if let id = locationIDs[frame.pc] {
          ids.append(id)
          continue
        }
        let key = FunctionKey(
          name: frame.function ?? "0x" + String(frame.pc, radix: 16), file: frame.file ?? "")
        let functionID: UInt64
        if let existing = functions[key] {
          functionID = existing
        } else {
          functionOrder.append(key)
          functionID = UInt64(functionOrder.count)
          functions[key] = functionID
        }
        locationOrder.append(frame.pc)
        let id = UInt64(locationOrder.count)
        locationIDs[frame.pc] = id
        locations[frame.pc] = (functionID, Int64(frame.line ?? 0))
        ids.append(id)
      }
      var labels: [(String, String)] = []
      if let reason = group.key.waitReason { labels.append(("wait reason", reason)) }
      if let creator = group.key.creationFunction {
        labels.append(
          (
            "created by",
            "\(creator) \(group.key.creationFile ?? "?"):\(group.key.creationLine ?? 0)"
          ))
      }
      samples.append((ids, Int64(group.count), labels))
    }

    var profile = ProtobufWriter()
    let (goroutine, count) = (string("goroutine"), string("count"))
    // sample_type = 1
    profile.field(1) {
      $0.field(1, goroutine)
      $0.field(2, count)
    }
    // sample = 2
    for sample in samples {
      profile.field(2) { message in
        message.field(1, packed: sample.locations)
        message.field(2, packed: [UInt64(bitPattern: sample.count)])
        for (key, value) in sample.labels {
          let (k, v) = (string(key), string(value))
          message.field(3) {
            $0.field(1, k)
            $0.field(2, v)
          }
        }
      }
    }
    // location = 4
    for (index, pc) in locationOrder.enumerated() {
      let location = locations[pc]!
      profile.field(4) { message in
        message.field(1, UInt64(index + 1))
        message.field(3, pc)
        message.field(4) {
          $0.field(1, location.function)
          $0.field(2, location.line)
        }
      }
    }
    // function = 5
    for (index, key) in functionOrder.enumerated() {
      let (name, file) = (string(key.name), string(key.file))
      profile.field(5) { message in
        message.field(1, UInt64(index + 1))
        message.field(2, name)
        message.field(3, name)
        message.field(4, file)
      }
    }
    // time_nanos = 9, period_type = 11, period = 12
    profile.field(9, Int64(time.wallSeconds * 1e9))
    profile.field(11) {
      $0.field(1, goroutine)
      $0.field(2, count)
    }
    profile.field(12, Int64(1))
    // string_table = 6, last: every string is known by now.
    var encoded = profile
    for value in strings { encoded.field(6, string: value) }
    return encoded.bytes
  }
}
