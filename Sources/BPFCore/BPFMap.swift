internal import CLibBPF
import Glibc

/// What the kernel reports about a map.
public struct BPFMapInfo: Sendable, Equatable {
  public var id: UInt32
  /// `enum bpf_map_type` value.
  public var type: UInt32
  public var keySize: UInt32
  public var valueSize: UInt32
  public var maxEntries: UInt32
  public var flags: UInt32
  public var name: String

  /// Reads the info of the map behind `fd`.
  public init(fd: OwnedFD) throws(BPFError) {
    var info = bpf_map_info()
    var length = UInt32(MemoryLayout<bpf_map_info>.size)
    let result = bpf_obj_get_info_by_fd(fd.rawValue, &info, &length)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_obj_get_info_by_fd", "map info", result: result)
    }
    id = info.id
    type = info.type
    keySize = info.key_size
    valueSize = info.value_size
    maxEntries = info.max_entries
    flags = info.map_flags
    name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }

  /// The kernel memory charged to the map behind `fd` (the `memlock:` line of its fdinfo), in
  /// bytes; 0 when it cannot be read.
  public static func kernelMemoryBytes(of fd: OwnedFD) -> UInt64 {
    guard let file = fopen("/proc/self/fdinfo/\(fd.rawValue)", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
      let text = String(cString: line)
      guard text.hasPrefix("memlock:") else { continue }
      return UInt64(text.dropFirst(8).filter(\.isNumber)) ?? 0
    }
    return 0
  }
}

/// A map with fixed-size Swift key and value types, whose sizes were checked
/// against the kernel's map when it was wrapped.
///
/// Per-CPU maps are read with `perCPUValues(_:)`; their `Value` is one CPU's value.
public struct BPFMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: Sendable {
  /// The map's descriptor.
  public let fd: OwnedFD
  public let info: BPFMapInfo
  /// Whether each value is replicated per possible CPU.
  public let isPerCPU: Bool

  /// Wraps the map behind `fd`, checking `Key` and `Value` against its key and value sizes.
  public init(fd: OwnedFD) throws(BPFError) {
    let info = try BPFMapInfo(fd: fd)
    guard info.keySize == MemoryLayout<Key>.size, info.valueSize == MemoryLayout<Value>.size else {
      throw BPFError(
        function: "BPFMap.init",
        context:
          "map \(info.name): kernel key/value sizes \(info.keySize)/\(info.valueSize), Swift types \(Key.self)/\(Value.self) are \(MemoryLayout<Key>.size)/\(MemoryLayout<Value>.size)",
        errno: EINVAL)
    }
    self.fd = fd
    self.info = info
    let perCPUTypes: [bpf_map_type] = [
      BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
    ]
    isPerCPU = perCPUTypes.contains { $0.rawValue == info.type }
  }

  /// Opens the map with kernel id `id` (e.g. an inner map found in a map-of-maps).
  public init(id: UInt32) throws(BPFError) {
    let fd = bpf_map_get_fd_by_id(id)
    guard fd >= 0 else { throw BPFError.libbpf("bpf_map_get_fd_by_id", "map id \(id)", result: fd) }
    try self.init(fd: OwnedFD(taking: fd))
  }

  /// Creates a new map (not pinned, not part of any object).
  public static func create(
    type: BPFMapType, name: String, maxEntries: UInt32, flags: UInt32 = 0,
    innerMap: OwnedFD? = nil
  ) throws(BPFError) -> BPFMap {
    var opts = bpf_map_create_opts()
    opts.sz = MemoryLayout<bpf_map_create_opts>.size
    opts.map_flags = flags
    opts.inner_map_fd = UInt32(bitPattern: innerMap?.rawValue ?? 0)
    let fd = bpf_map_create(
      bpf_map_type(type.rawValue), name, UInt32(MemoryLayout<Key>.size),
      UInt32(MemoryLayout<Value>.size), maxEntries, &opts)
    guard fd >= 0 else {
      throw BPFError.libbpf("bpf_map_create", "creating map \(name)", result: fd)
    }
    return try BPFMap(fd: OwnedFD(taking: fd))
  }

  /// The kernel memory charged to the map, in bytes (see `BPFMapInfo.kernelMemoryBytes(of:)`).
  public var kernelMemoryBytes: UInt64 { BPFMapInfo.kernelMemoryBytes(of: fd) }

  /// The value for `key`, or nil when absent.
  public func lookup(_ key: Key) throws(BPFError) -> Value? {
    precondition(!isPerCPU, "use perCPUValues(_:) on per-CPU map \(info.name)")
    var key = key
    return try withUnsafeTemporaryAllocation(of: Value.self, capacity: 1) {
      buffer throws(BPFError) -> Value? in
      let result = bpf_map_lookup_elem(fd.rawValue, &key, buffer.baseAddress)
      if result == -ENOENT { return nil }
      guard result == 0 else {
        throw BPFError.libbpf("bpf_map_lookup_elem", "map \(info.name)", result: result)
      }
      return buffer[0]
    }
  }

  /// One value per possible CPU for `key` (per-CPU maps).
  public func perCPUValues(_ key: Key) throws(BPFError) -> [Value] {
    let cpus = Int(libbpf_num_possible_cpus())
    let stride = (MemoryLayout<Value>.size + 7) & ~7
    var key = key
    var bytes = [UInt8](repeating: 0, count: stride * max(cpus, 1))
    let result = bytes.withUnsafeMutableBytes {
      bpf_map_lookup_elem(fd.rawValue, &key, $0.baseAddress)
    }
    if result == -ENOENT { return [] }
    guard result == 0 else {
      throw BPFError.libbpf("bpf_map_lookup_elem", "map \(info.name)", result: result)
    }
    return bytes.withUnsafeBytes { raw in
      (0..<cpus).map { raw.loadUnaligned(fromByteOffset: $0 * stride, as: Value.self) }
    }
  }

  /// Inserts or replaces `key`.
  public func update(_ key: Key, _ value: Value, flags: BPFUpdateFlags = .any) throws(BPFError) {
    var key = key
    var value = value
    let result = bpf_map_update_elem(fd.rawValue, &key, &value, flags.rawValue)
    guard result == 0 else {
      throw BPFError.libbpf("bpf_map_update_elem", "map \(info.name)", result: result)
    }
  }

  /// Sets `key` to `value` on every CPU (per-CPU maps).
  public func updatePerCPU(_ key: Key, _ value: Value) throws(BPFError) {
    try updateBatchPerCPU(keys: [key], value: value)
  }

  /// Sets every key in `keys` to `value` on every CPU (per-CPU maps), in one syscall.
  public func updateBatchPerCPU(keys: [Key], value: Value) throws(BPFError) {
    guard !keys.isEmpty else { return }
    let cpus = max(Int(libbpf_num_possible_cpus()), 1)
    let stride = (MemoryLayout<Value>.size + 7) & ~7
    var bytes = [UInt8](repeating: 0, count: stride * cpus * keys.count)
    bytes.withUnsafeMutableBytes { raw in
      for slot in 0..<(cpus * keys.count) {
        raw.storeBytes(of: value, toByteOffset: slot * stride, as: Value.self)
      }
    }
    var count = UInt32(keys.count)
    var opts = bpf_map_batch_opts()
    opts.sz = MemoryLayout<bpf_map_batch_opts>.size
    let result = keys.withUnsafeBytes { keyBytes in
      bytes.withUnsafeBytes {
        bpf_map_update_batch(fd.rawValue, keyBytes.baseAddress, $0.baseAddress, &count, &opts)
      }
    }
    guard result == 0 else {
      throw BPFError.libbpf("bpf_map_update_batch", "per-CPU map \(info.name)", result: result)
    }
  }

  /// Deletes `key`; returns false if it was absent.
  @discardableResult
  public func delete(_ key: Key) throws(BPFError) -> Bool {
    var key = key
    let result = bpf_map_delete_elem(fd.rawValue, &key)
    if result == -ENOENT { return false }
    guard result == 0 else {
      throw BPFError.libbpf("bpf_map_delete_elem", "map \(info.name)", result: result)
    }
    return true
  }

  /// All keys, in the kernel's iteration order.
  public func keys() throws(BPFError) -> [Key] {
    var keys: [Key] = []
    var result: Int32 = 0
    try withUnsafeTemporaryAllocation(of: Key.self, capacity: 2) { buffer throws(BPFError) in
      let current = buffer.baseAddress!
      let next = current + 1
      var previous: UnsafeMutablePointer<Key>? = nil
      while true {
        result = bpf_map_get_next_key(fd.rawValue, previous, next)
        if result == -ENOENT { return }
        guard result == 0 else {
          throw BPFError.libbpf("bpf_map_get_next_key", "map \(info.name)", result: result)
        }
        keys.append(next.pointee)
        current.pointee = next.pointee
        previous = current
      }
    }
    return keys
  }

  /// Writes many entries in one syscall (`BPF_MAP_UPDATE_BATCH`).
  public func updateBatch(keys: [Key], values: [Value]) throws(BPFError) {
    precondition(keys.count == values.count, "batch keys and values differ in count")
    guard !keys.isEmpty else { return }
    var count = UInt32(keys.count)
    var opts = bpf_map_batch_opts()
    opts.sz = MemoryLayout<bpf_map_batch_opts>.size
    let result = keys.withUnsafeBytes { keyBytes in
      values.withUnsafeBytes { valueBytes in
        bpf_map_update_batch(
          fd.rawValue, keyBytes.baseAddress, valueBytes.baseAddress, &count, &opts)
      }
    }
    guard result == 0 else {
      throw BPFError.libbpf(
        "bpf_map_update_batch", "map \(info.name): \(count) of \(keys.count) written",
        result: result)
    }
  }

  /// Pins the map at `path`.
  public func pin(at path: String) throws(BPFError) { try BPFPin.pin(fd, at: path) }
}

extension BPFMap where Value == UInt32 {
  /// Sets the inner map at `key` of a map-of-maps (array or hash of maps).
  public func setInner(_ key: Key, map inner: OwnedFD) throws(BPFError) {
    var key = key
    var innerFD = UInt32(bitPattern: inner.rawValue)
    let result = bpf_map_update_elem(fd.rawValue, &key, &innerFD, UInt64(BPF_ANY))
    guard result == 0 else {
      throw BPFError.libbpf(
        "bpf_map_update_elem", "swapping inner map of \(info.name)", result: result)
    }
  }
}

/// Map types Vigil creates from user space.
public enum BPFMapType: UInt32, Sendable {
  case hash = 1
  case array = 2
  case percpuArray = 6
  case lpmTrie = 11
  case arrayOfMaps = 12
  case hashOfMaps = 13
}

/// `bpf_map_create` flags.
public enum BPFMapFlags {
  /// `BPF_F_NO_PREALLOC`: entries allocated on insert (required for LPM tries).
  public static let noPrealloc = UInt32(BPF_F_NO_PREALLOC)
  /// `BPF_F_MMAPABLE`: an array user space can map (`BPFMappedArray`).
  public static let mmapable = UInt32(BPF_F_MMAPABLE)
  /// `BPF_F_INNER_MAP`: an inner map whose size may differ from its map-of-maps' template.
  public static let innerMap = UInt32(BPF_F_INNER_MAP)
}

/// `bpf_map_update_elem` flags.
public struct BPFUpdateFlags: Sendable {
  public let rawValue: UInt64
  /// Create or replace.
  public static let any = BPFUpdateFlags(rawValue: UInt64(BPF_ANY))
  /// Create only.
  public static let noExist = BPFUpdateFlags(rawValue: UInt64(BPF_NOEXIST))
  /// Replace only.
  public static let exist = BPFUpdateFlags(rawValue: UInt64(BPF_EXIST))
}
