import Glibc

/// The few /proc files the inspector reads: start time, executable, mappings, clocks.
enum ProcFS {
  /// The whole of a small /proc file, or nil when it does not exist (ENOENT/ESRCH).
  static func read(_ path: String, limit: Int = 1 << 22) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while result.count < limit {
      let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { break }
      result.append(contentsOf: chunk[0..<count])
    }
    return result
  }

  /// Field 22 of /proc/PID/stat: the start time in clock ticks after boot, which together with
  /// the pid names one process. Throws `processExited` when the process is gone.
  static func startTime(pid: Int32) throws(GoProcessError) -> UInt64 {
    let path = "/proc/\(pid)/stat"
    guard let bytes = read(path) else { throw .processExited(pid: pid) }
    // The command name (field 2) is in parentheses and may contain spaces or parentheses.
    guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else {
      throw .procfs(pid: pid, path: path, reason: "no ')' after the command name")
    }
    let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
    // fields[0] is field 3 (state); field 22 is fields[19].
    guard fields.count > 19, let start = UInt64(String(decoding: fields[19], as: UTF8.self))
    else { throw .procfs(pid: pid, path: path, reason: "no start time field") }
    return start
  }

  /// Where /proc/PID/exe points, for messages.
  static func executableName(pid: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return "/proc/\(pid)/exe" }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// How far the executable was moved from its link addresses: 0 for a fixed-address (`ET_EXEC`)
  /// binary; for PIE the start of the executable's lowest mapping in /proc/PID/maps minus its
  /// first `PT_LOAD` address.
  static func loadBias(pid: Int32) throws(GoProcessError) -> UInt64 {
    let exe = "/proc/\(pid)/exe"
    guard let header = readPrefix(exe, count: 64) else { throw .processExited(pid: pid) }
    func word<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int, _: T.Type) -> T {
      bytes.withUnsafeBytes {
        T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self))
      }
    }
    guard header.count == 64, header[0..<4] == [0x7f, 0x45, 0x4c, 0x46], header[4] == 2 else {
      throw .procfs(pid: pid, path: exe, reason: "not a 64-bit ELF file")
    }
    let type = word(header, 16, UInt16.self)
    guard type == 3 else { return 0 }  // ET_DYN: position-independent
    let (phoff, phentsize, phnum) = (
      word(header, 32, UInt64.self), Int(word(header, 54, UInt16.self)),
      Int(word(header, 56, UInt16.self))
    )
    guard phentsize >= 56, phnum <= 256, phoff < 1 << 20,
      let headers = readPrefix(exe, count: Int(phoff) + phentsize * phnum),
      headers.count == Int(phoff) + phentsize * phnum
    else { throw .procfs(pid: pid, path: exe, reason: "bad program headers") }
    var firstLoad: UInt64?
    for index in 0..<phnum {
      let offset = Int(phoff) + index * phentsize
      if word(headers, offset, UInt32.self) == 1 {  // PT_LOAD
        let vaddr = word(headers, offset + 16, UInt64.self)
        firstLoad = min(firstLoad ?? vaddr, vaddr)
      }
    }
    guard let firstLoad else { throw .procfs(pid: pid, path: exe, reason: "no PT_LOAD segment") }
    let mapsPath = "/proc/\(pid)/maps"
    guard let maps = read(mapsPath) else { throw .processExited(pid: pid) }
    let target = executableName(pid: pid)
    var lowest: UInt64?
    for line in maps.split(separator: UInt8(ascii: "\n")) {
      let text = String(decoding: line, as: UTF8.self)
      let fields = text.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
      guard fields.count == 6, fields[5].drop(while: { $0 == " " }) == target,
        let dash = fields[0].firstIndex(of: "-"),
        let start = UInt64(fields[0][..<dash], radix: 16)
      else { continue }
      lowest = min(lowest ?? start, start)
    }
    guard let lowest else {
      throw .procfs(pid: pid, path: mapsPath, reason: "no mapping of \(target)")
    }
    return lowest &- (firstLoad & ~0xfff)
  }

  private static func readPrefix(_ path: String, count: Int) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: count)
    let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
    return got < 0 ? nil : Array(buffer[0..<got])
  }

  /// `CLOCK_MONOTONIC` and `CLOCK_REALTIME` now.
  static func now() -> (monotonic: UInt64, wall: Double) {
    var mono = timespec()
    var wall = timespec()
    clock_gettime(CLOCK_MONOTONIC, &mono)
    clock_gettime(CLOCK_REALTIME, &wall)
    return (
      UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec),
      Double(wall.tv_sec) + Double(wall.tv_nsec) / 1e9
    )
  }
}

extension ProcFS {
  /// Throws `processExited` or `processReplaced` unless `pid` still has `startTime`.
  static func checkAlive(pid: Int32, startTime: UInt64) throws(GoProcessError) {
    let found = try ProcFS.startTime(pid: pid)
    guard found == startTime else {
      throw .processReplaced(pid: pid, expectedStartTime: startTime, foundStartTime: found)
    }
  }
}
