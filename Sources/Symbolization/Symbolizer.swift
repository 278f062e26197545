import Foundation

/// Turns user-space addresses of live processes into function names, caching parsed ELF files
/// and per-process memory maps.
///
/// `@unchecked Sendable`: the caches are mutable and only touched while holding `lock`. It is an
/// `NSLock` rather than `Synchronization.Mutex` because the package still declares macOS 14, where
/// `Mutex` is unavailable. The lock is held while a file is parsed, so concurrent callers wait for
/// one parse instead of repeating it.
public final class Symbolizer: @unchecked Sendable {
  private struct FileKey: Hashable {
    var device: String
    var inode: UInt64
    var path: String
  }

  private let lock = NSLock()
  /// nil values remember files that could not be read, so they are not retried on every stack.
  private var files: LRUCache<FileKey, ELFSymbolTable?>
  /// Sorted by start address.
  private var processes: LRUCache<Int32, [MemoryMapping]>

  /// Keeps at most `maxFiles` parsed files and the maps of at most `maxProcesses` processes.
  public init(maxFiles: Int = 64, maxProcesses: Int = 256) {
    files = LRUCache(capacity: maxFiles)
    processes = LRUCache(capacity: maxProcesses)
  }

  /// Symbolizes `addresses` (innermost first) of process `pid`, one frame per address.
  ///
  /// With `returnAddresses`, every address but the first is a return address from a stack walk
  /// and is looked up at `address - 1`, so a call ending a function is attributed to that function
  /// rather than the next one. Frame offsets are still relative to the address given.
  public func symbolize(pid: Int32, addresses: [UInt64], returnAddresses: Bool = false) -> [Frame] {
    lock.withLock {
      var mappings = processes.value(for: pid) ?? []
      // Code is only ever in executable mappings: a miss means the maps changed since they were
      // read (a library loaded, or memory unmapped and reused).
      if addresses.contains(where: { $0 != 0 && !mappings.hasCode(at: $0) }),
        let fresh = try? ProcMaps.read(pid: pid)
      {
        mappings = fresh.sorted { $0.start < $1.start }
        processes.insert(mappings, for: pid)
      }
      return addresses.enumerated().map { index, address in
        frame(address, adjust: returnAddresses && index > 0 ? 1 : 0, pid: pid, mappings: mappings)
      }
    }
  }

  /// Drops the cached maps of `pid`, after it exited or called exec.
  public func forget(pid: Int32) {
    lock.withLock { processes.remove(pid) }
  }

  private func frame(_ address: UInt64, adjust: UInt64, pid: Int32, mappings: [MemoryMapping])
    -> Frame
  {
    guard let mapping = mappings.mapping(containing: address) else {
      return Frame(address: address, function: nil, offset: address, module: nil)
    }
    let module = mapping.path.isEmpty ? nil : mapping.path
    guard mapping.isFileBacked else {
      return Frame(address: address, function: nil, offset: address - mapping.start, module: module)
    }
    let fileOffset = address - mapping.start &+ mapping.fileOffset
    guard let table = table(for: mapping, pid: pid) else {
      return Frame(address: address, function: nil, offset: fileOffset, module: module)
    }
    let fileAddress = table.fileAddress(forFileOffset: fileOffset) ?? fileOffset
    guard fileAddress >= adjust, let symbol = table.lookup(fileAddress - adjust) else {
      return Frame(address: address, function: nil, offset: fileAddress, module: module)
    }
    return Frame(
      address: address, function: symbol.name, offset: symbol.offset + adjust, module: module)
  }

  /// The parsed file behind `mapping`, opened through the process's view of the filesystem
  /// (containers) and, for deleted files, through /proc/PID/map_files. The inode must match.
  private func table(for mapping: MemoryMapping, pid: Int32) -> ELFSymbolTable? {
    let key = FileKey(device: mapping.device, inode: mapping.inode, path: mapping.path)
    if let cached = files.value(for: key) { return cached }
    let deletedSuffix = " (deleted)"
    let isDeleted = mapping.path.hasSuffix(deletedSuffix)
    let path = isDeleted ? String(mapping.path.dropLast(deletedSuffix.count)) : mapping.path
    let mapFile =
      "/proc/\(pid)/map_files/\(String(mapping.start, radix: 16))-\(String(mapping.end, radix: 16))"
    let inRoot = "/proc/\(pid)/root\(path)"
    let candidates = isDeleted ? [mapFile, inRoot] : [inRoot, path, mapFile]
    // A plain loop: in release builds (Swift 6.3) `lazy.compactMap { try? ... }.first` trapped
    // when a candidate threw (a process gone before its stack was symbolized) instead of trying
    // the next one.
    var table: ELFSymbolTable?
    for candidate in candidates where table == nil {
      table = try? ELFSymbolTable(contentsOf: candidate, expectedInode: mapping.inode)
    }
    files.insert(table, for: key)
    return table
  }
}

extension [MemoryMapping] {
  /// The mapping containing `address`, in maps sorted by start address.
  func mapping(containing address: UInt64) -> MemoryMapping? {
    guard let index = lastIndex(atOrBefore: address, key: \.start), address < self[index].end
    else { return nil }
    return self[index]
  }

  func hasCode(at address: UInt64) -> Bool { mapping(containing: address)?.isExecutable == true }
}

/// A least-recently-used cache. Eviction scans for the oldest entry, which is cheap at the sizes
/// used here (hundreds of entries) and keeps the structure trivial.
struct LRUCache<Key: Hashable, Value> {
  private var entries: [Key: (value: Value, lastUse: UInt64)] = [:]
  private var clock: UInt64 = 0
  let capacity: Int

  init(capacity: Int) { self.capacity = max(1, capacity) }

  var count: Int { entries.count }

  mutating func value(for key: Key) -> Value? {
    clock += 1
    entries[key]?.lastUse = clock
    return entries[key]?.value
  }

  mutating func insert(_ value: Value, for key: Key) {
    clock += 1
    if entries[key] == nil, entries.count >= capacity,
      let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
    {
      entries[oldest] = nil
    }
    entries[key] = (value, clock)
  }

  mutating func remove(_ key: Key) { entries[key] = nil }
}
