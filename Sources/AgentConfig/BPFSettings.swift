/// Where BPF objects are pinned and how events are buffered between the kernel and the daemon.
public struct BPFSettings: Sendable, Equatable, Codable {
  /// Directory on a bpffs where maps and links are pinned.
  public var pinPath: String
  /// Size of the event ring buffer: a power of two and at least one page.
  public var ringBufferBytes: UInt64
  /// Bytes that may accumulate in the ring buffer before the daemon is woken; below
  /// `ringBufferBytes`.
  public var wakeupBatchBytes: UInt64

  /// Creates BPF settings; the defaults are those of a file that leaves `bpf` out.
  public init(
    pinPath: String = "/sys/fs/bpf/vigil", ringBufferBytes: UInt64 = 2 << 20,
    wakeupBatchBytes: UInt64 = 256 << 10
  ) {
    self.pinPath = pinPath
    self.ringBufferBytes = ringBufferBytes
    self.wakeupBatchBytes = wakeupBatchBytes
  }

  init(_ node: ConfigNode) throws(ConfigError) {
    self.init()
    let fields = try node.mapping(keys: ["pinPath", "ringBufferBytes", "wakeupBatchBytes"])
    let sizeReason = "is not a size (use 8MiB, 256KiB or a byte count)"
    if let pinPath = fields["pinPath"] { self.pinPath = try pinPath.string() }
    if let ring = fields["ringBufferBytes"] {
      ringBufferBytes = try ring.parsed(Quantities.bytes, else: sizeReason)
    }
    if let batch = fields["wakeupBatchBytes"] {
      wakeupBatchBytes = try batch.parsed(Quantities.bytes, else: sizeReason)
    }
  }

  func validate(source: String, pageSize: UInt64) throws(ConfigError) {
    guard pinPath.hasPrefix("/") else {
      throw ConfigError(
        source: source, field: "bpf.pinPath", value: pinPath, reason: "must be an absolute path")
    }
    // BPF_MAP_TYPE_RINGBUF takes a u32 max_entries that is a power of two and a multiple of the
    // page size.
    guard ringBufferBytes >= pageSize, ringBufferBytes <= 1 << 31,
      ringBufferBytes & (ringBufferBytes - 1) == 0
    else {
      throw ConfigError(
        source: source, field: "bpf.ringBufferBytes", value: "\(ringBufferBytes)",
        reason: "must be a power of two from the page size (\(pageSize)) to 2GiB")
    }
    guard wakeupBatchBytes > 0, wakeupBatchBytes < ringBufferBytes else {
      throw ConfigError(
        source: source, field: "bpf.wakeupBatchBytes", value: "\(wakeupBatchBytes)",
        reason: "must be above zero and below bpf.ringBufferBytes (\(ringBufferBytes))")
    }
  }
}
