import Foundation
import Testing

@testable import Symbolization

/// A Swift function with a C symbol name, to find in the test binary's own symbol table.
@_cdecl("vigil_symbolization_test_marker")
func vigilSymbolizationTestMarker() -> Int32 { 42 }

// MARK: - /proc/PID/maps

@Test func parsesProcMapsText() {
  let text = """
    55d0c4a00000-55d0c4a01000 r--p 00000000 fd:01 1234567                    /usr/bin/prog
    55d0c4a01000-55d0c4a02000 r-xp 00001000 fd:01 1234567                    /usr/bin/prog
    55d0c5000000-55d0c5021000 rw-p 00000000 00:00 0                          [heap]
    7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
    7f1000000000-7f1000001000 r-xp 00002000 08:02 42                         /opt/my app/lib x.so (deleted)
    7ffd10000000-7ffd10002000 r-xp 00000000 00:00 0                          [vdso]
    ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
    not a mapping line
    7f2000000000-7f1000000000 r-xp 00000000 00:00 0                          [inverted]
    """
  let maps = ProcMaps.parse(text)
  #expect(maps.count == 7)
  #expect(
    maps[1]
      == MemoryMapping(
        start: 0x55d0_c4a0_1000, end: 0x55d0_c4a0_2000, fileOffset: 0x1000, path: "/usr/bin/prog",
        isExecutable: true, inode: 1_234_567, device: "fd:01"))
  #expect(!maps[0].isExecutable && maps[0].isFileBacked)
  #expect(maps[3].path == "" && !maps[3].isFileBacked)
  #expect(maps[4].path == "/opt/my app/lib x.so (deleted)" && maps[4].fileOffset == 0x2000)
  #expect(maps[5].path == "[vdso]" && !maps[5].isFileBacked)
  #expect(maps[6].start == 0xffff_ffff_ff60_0000 && maps[6].isExecutable)
}

@Test func readsOwnMaps() throws {
  let maps = try ProcMaps.read(pid: getpid())
  #expect(maps.contains { $0.isExecutable && $0.isFileBacked })
  #expect(throws: SymbolizationError.self) { try ProcMaps.read(pid: -1) }
}

// MARK: - Live processes

@Test func symbolizesOwnProcess() throws {
  let getpidAddress = try address(of: "getpid", in: #require(dlopen(nil, RTLD_NOW)))
  let marker: @convention(c) () -> Int32 = vigilSymbolizationTestMarker
  let markerAddress = UInt64(UInt(bitPattern: unsafeBitCast(marker, to: Int.self)))
  let anonymous = try #require(
    mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
  defer { munmap(anonymous, 4096) }
  let anonymousAddress = UInt64(UInt(bitPattern: anonymous))

  let addresses = [getpidAddress, markerAddress + 1, anonymousAddress + 16, 0]
  let frames = Symbolizer().symbolize(pid: getpid(), addresses: addresses)
  #expect(["getpid", "__getpid"].contains(frames[0].function))
  #expect(frames[0].offset == 0 && frames[0].module?.contains("libc") == true)
  #expect(frames[1].function == "vigil_symbolization_test_marker" && frames[1].offset == 1)
  #expect(frames[2].function == nil && frames[2].module == nil)  // may be merged with neighbours
  #expect(frames[3] == Frame(address: 0, function: nil, offset: 0, module: nil))
  // One cached file at a time: each module evicts the other and is parsed again.
  #expect(
    Symbolizer(maxFiles: 1, maxProcesses: 1).symbolize(pid: getpid(), addresses: addresses)
      == frames)
}

@Test(arguments: [["-fPIE", "-pie"], ["-fno-pie", "-no-pie"], ["-s"]])
func symbolizesChildProcess(flags: [String]) throws {
  let directory = try TemporaryDirectory()
  let path = try compile(in: directory, flags: flags, output: "prog")
  let symbolizer = Symbolizer()
  let (pid, frames) = try withChild(path) { pid, printed in
    (pid, symbolizer.symbolize(pid: pid, addresses: printed.map { $0 + 4 }))
  }
  try #require(frames.count == 3)
  #expect(frames.allSatisfy { $0.module?.hasSuffix("/prog") == true })
  if flags == ["-s"] {
    // Stripped: the ELF virtual address, which names the function in an unstripped build.
    let full = try ELFSymbolTable(contentsOf: compile(in: directory, flags: [], output: "full"))
    #expect(try ELFSymbolTable(contentsOf: path).isStripped && !full.isStripped)
    #expect(frames.map(\.function) == [nil, nil, nil])
    #expect(
      frames.map { full.lookup($0.offset)?.name } == ["vigil_alpha", "vigil_beta", "vigil_hidden"])
  } else {
    #expect(frames.map(\.function) == ["vigil_alpha", "vigil_beta", "vigil_hidden"])
    #expect(frames.map(\.offset) == [4, 4, 4])
  }
  // The process is gone: once forgotten, its addresses belong to no mapping.
  symbolizer.forget(pid: pid)
  #expect(symbolizer.symbolize(pid: pid, addresses: [frames[0].address])[0].module == nil)
}

/// dlopen and dlclose in this process: serialized, so that one test's library is not unmapped
/// and its address reused by another's while a symbolizer holds cached maps.
@Suite(.serialized) struct LoadedLibraryTests {
  @Test(arguments: [false, true])
  func symbolizesLibraryLoadedAfterMapsWereCached(stripped: Bool) throws {
    let directory = try TemporaryDirectory()
    let path = try compile(
      in: directory, flags: ["-shared", "-fPIC"] + (stripped ? ["-s"] : []), output: "libvigil.so")
    let symbolizer = Symbolizer()
    _ = symbolizer.symbolize(
      pid: getpid(), addresses: [try address(of: "getpid", in: dlopen(nil, RTLD_NOW))])
    let library = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL))
    defer { dlclose(library) }
    let (alpha, beta, hidden) = try symbols(in: library)

    // As return addresses, the starts of alpha and beta belong to the functions laid out before them.
    let frames = symbolizer.symbolize(
      pid: getpid(), addresses: [hidden + 2, alpha, beta], returnAddresses: true)
    #expect(frames.allSatisfy { $0.module?.hasSuffix("/libvigil.so") == true })
    let hiddenName: String? = stripped ? nil : "vigil_hidden"
    #expect(frames.map(\.function) == [hiddenName, hiddenName, "vigil_alpha"])
    #expect(frames[2].offset == beta - alpha)
    if !stripped { #expect(frames[0].offset == 2) }
    #expect(frames[2].description == "vigil_alpha+0x\(String(beta - alpha, radix: 16)) (\(path))")
  }

  @Test func deletedLibraryGivesAModuleFrame() throws {
    let directory = try TemporaryDirectory()
    let path = try compile(in: directory, flags: ["-shared", "-fPIC"], output: "libgone.so")
    let library = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL))
    defer { dlclose(library) }
    let (alpha, _, _) = try symbols(in: library)
    try FileManager.default.removeItem(atPath: path)
    let frame = Symbolizer().symbolize(pid: getpid(), addresses: [alpha])[0]
    #expect(frame.module?.hasSuffix("/libgone.so (deleted)") == true)
    // Readable through /proc/PID/map_files only with CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE).
    #expect(frame.function == nil || frame.function == "vigil_alpha")
  }
}

// MARK: - ELF parsing

@Test func looksUpSyntheticSymbols() throws {
  let table = try ELFSymbolTable(bytes: SyntheticELF().bytes)
  #expect(!table.isStripped && table.symbolCount == 3)
  #expect(table.loadSegments.count == 1 && table.loadSegments[0].isExecutable)
  #expect(table.fileAddress(forFileOffset: 0x10) == 0x40_0010)
  #expect(table.fileAddress(forFileOffset: 0x10_0000) == nil)
  // vigil_alpha is preferred over its alias; 0x401018 is past asm_fn (the size-0 NOTYPE label
  // there is ignored); vigil_beta has size 0 and extends to the end of .text.
  let expected: [(UInt64, String?, UInt64)] = [
    (0x40_1000, "vigil_alpha", 0), (0x40_100f, "vigil_alpha", 0xf), (0x40_1012, "asm_fn", 2),
    (0x40_1018, nil, 0), (0x40_1020, "vigil_beta", 0), (0x40_10ff, "vigil_beta", 0xdf),
    (0x40_1100, nil, 0), (0x40_0fff, nil, 0), (0, nil, 0),
  ]
  for (address, name, offset) in expected {
    let found = table.lookup(address)
    #expect(found?.name == name, "0x\(String(address, radix: 16))")
    #expect(found.map(\.offset) == name.map { _ in offset })
  }
}

@Test func corruptHeadersThrow() throws {
  let elf = SyntheticELF()
  let symtab = elf.sectionHeaders + 2 * 64
  let patches: [(String, Int, UInt64, Int)] = [
    ("huge section count", 0x3c, 0xffff, 2),
    ("huge program header count", 0x38, 0xffff, 2),
    ("tiny program header size", 0x36, 8, 2),
    ("section headers beyond the end", 0x28, 1 << 62, 8),
    ("section header offset overflows", 0x28, .max, 8),
    ("PT_LOAD beyond the end", 64 + 32, 1 << 40, 8),
    ("symbol table larger than the file", symtab + 32, 1 << 40, 8),
    ("symbol table offset overflows", symtab + 24, .max, 8),
    ("string table link out of range", symtab + 40, 99, 4),
    ("link to a non-string table", symtab + 40, 1, 4),
    ("symbol entry size 0", symtab + 56, 0, 8),
    ("symbol name beyond its string table", elf.symbols + 24, 0xffff_fff0, 4),
    ("32-bit", 4, 1, 1),
    ("big-endian", 5, 2, 1),
    ("bad magic", 0, 0x7e, 1),
  ]
  for (name, offset, value, width) in patches {
    var bytes = elf.bytes
    bytes.put(value, at: offset, width: width)
    #expect(throws: SymbolizationError.self, "\(name)") { try ELFSymbolTable(bytes: bytes) }
  }
}

@Test func truncatedFilesThrow() throws {
  let directory = try TemporaryDirectory()
  let real = try [UInt8](
    Data(contentsOf: URL(fileURLWithPath: compile(in: directory, flags: [], output: "p"))))
  for full in [SyntheticELF().bytes, real] {
    #expect(throws: Never.self) { try ELFSymbolTable(bytes: full) }
    for length in [0, 1, 4, 63, 64, 100, full.count / 2, full.count - 1] {
      #expect(throws: SymbolizationError.self, "\(length)") {
        try ELFSymbolTable(bytes: Array(full.prefix(length)))
      }
    }
  }
}

@Test func randomAndMutatedBytesNeverCrash() throws {
  var random = SeededRandom(state: 0x5eed)
  for _ in 0..<1000 {
    let bytes = (0..<Int.random(in: 0..<512, using: &random)).map { _ in
      UInt8.random(in: 0...0x7e, using: &random)
    }
    #expect(throws: SymbolizationError.self) { try ELFSymbolTable(bytes: bytes) }
  }
  let directory = try TemporaryDirectory()
  let real = try [UInt8](
    Data(contentsOf: URL(fileURLWithPath: compile(in: directory, flags: [], output: "p"))))
  for original in [SyntheticELF().bytes, real] {
    for _ in 0..<500 {
      var bytes = original
      for _ in 0..<Int.random(in: 1...4, using: &random) {
        bytes[Int.random(in: bytes.indices, using: &random)] = .random(in: 0...255, using: &random)
      }
      if let table = try? ELFSymbolTable(bytes: bytes) {
        for _ in 0..<8 { _ = table.lookup(.random(in: 0..<0x50_0000, using: &random)) }
      }
    }
  }
}

@Test func unreadableFilesThrow() throws {
  #expect(throws: SymbolizationError.io(path: "/nonexistent/x", operation: "open", errno: ENOENT)) {
    try ELFSymbolTable(contentsOf: "/nonexistent/x")
  }
  let directory = try TemporaryDirectory()
  let fifo = directory.path + "/fifo"
  try #require(mkfifo(fifo, 0o600) == 0)
  for path in [fifo, "/dev/zero", directory.path] {
    #expect(throws: SymbolizationError.unsupported(path: path, reason: "not a regular file")) {
      try ELFSymbolTable(contentsOf: path)
    }
  }
  #expect(throws: SymbolizationError.self) { try ELFSymbolTable(contentsOf: "/proc/self/maps") }
  #expect(throws: SymbolizationError.self) {
    try ELFSymbolTable(contentsOf: "/proc/self/exe", expectedInode: 1)
  }
  #expect("\(SymbolizationError.notELF(path: "/bin/x"))" == "/bin/x: not an ELF file")
}

// MARK: - Caches and formatting

@Test func lruCacheEvictsLeastRecentlyUsed() {
  var cache = LRUCache<Int, String>(capacity: 2)
  cache.insert("a", for: 1)
  cache.insert("b", for: 2)
  _ = cache.value(for: 1)
  cache.insert("c", for: 3)
  #expect(cache.value(for: 2) == nil && cache.value(for: 1) == "a" && cache.value(for: 3) == "c")
  cache.insert("a2", for: 1)
  #expect(cache.count == 2 && cache.value(for: 3) == "c" && cache.value(for: 1) == "a2")
  cache.remove(1)
  #expect(cache.count == 1 && cache.value(for: 1) == nil)
}

@Test func describesFrames() {
  #expect(
    Frame(address: 1, function: "main", offset: 0x12, module: "/bin/x").description
      == "main+0x12 (/bin/x)")
  #expect(
    Frame(address: 1, function: nil, offset: 0x1139, module: "/bin/x").description
      == "/bin/x+0x1139")
  #expect(
    Frame(address: 0x7f00, function: nil, offset: 0x7f00, module: nil).description == "0x7f00")
}

// MARK: - Helpers

private let cSource = """
  #include <stdio.h>
  #include <unistd.h>
  static int vigil_hidden(int x) { return x * 3 + 1; }
  int vigil_alpha(int x) { return vigil_hidden(x) + 2; }
  int vigil_beta(int x) { return vigil_alpha(x) * 5; }
  void *vigil_hidden_address(void) { return (void *)vigil_hidden; }
  int main(void) {
    printf("%p %p %p\\n", (void *)vigil_alpha, (void *)vigil_beta, (void *)vigil_hidden);
    fflush(stdout);
    char c;
    return (int)read(0, &c, 1);
  }
  """

/// A directory removed when the value is released.
private final class TemporaryDirectory {
  let path = NSTemporaryDirectory() + "vigil-symbolization-" + UUID().uuidString
  init() throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Compiles `cSource` with `cc -O0` (functions in source order, unpadded) and returns the output.
private func compile(in directory: TemporaryDirectory, flags: [String], output: String) throws
  -> String
{
  let source = directory.path + "/prog.c"
  let target = directory.path + "/" + output
  try cSource.write(toFile: source, atomically: true, encoding: .utf8)
  let cc = Process()
  cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  cc.arguments = ["cc", "-O0", "-o", target, source] + flags
  try cc.run()
  cc.waitUntilExit()
  try #require(cc.terminationStatus == 0, "cc \(flags) failed")
  return target
}

/// Runs `path` until it has printed its function addresses, calls `body`, then lets it exit.
private func withChild<T>(_ path: String, _ body: (Int32, [UInt64]) throws -> T) throws -> T {
  let child = Process()
  let (input, output) = (Pipe(), Pipe())
  child.executableURL = URL(fileURLWithPath: path)
  (child.standardInput, child.standardOutput) = (input, output)
  try child.run()
  var line = Data()
  while !line.contains(UInt8(ascii: "\n")) {
    let chunk = output.fileHandleForReading.availableData
    if chunk.isEmpty { break }
    line += chunk
  }
  let addresses = String(decoding: line, as: UTF8.self).split(separator: " ").compactMap {
    UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16)
  }
  let result = try body(child.processIdentifier, addresses)
  try input.fileHandleForWriting.close()
  child.waitUntilExit()
  return result
}

private func address(of symbol: String, in handle: UnsafeMutableRawPointer?) throws -> UInt64 {
  let address = UInt64(UInt(bitPattern: dlsym(handle, symbol)))
  try #require(address != 0, "\(symbol) not found")
  return address
}

/// The addresses of vigil_alpha, vigil_beta and the static vigil_hidden in a loaded library.
private func symbols(in library: UnsafeMutableRawPointer) throws -> (UInt64, UInt64, UInt64) {
  typealias Getter = @convention(c) () -> UnsafeMutableRawPointer?
  let getter = unsafeBitCast(try #require(dlsym(library, "vigil_hidden_address")), to: Getter.self)
  let hidden = UInt64(UInt(bitPattern: getter()))
  return (
    try address(of: "vigil_alpha", in: library), try address(of: "vigil_beta", in: library), hidden
  )
}

/// A minimal ELF64 image: one PT_LOAD, `.text` (NOBITS, 0x401000..<0x401100), `.symtab`, `.strtab`.
private struct SyntheticELF {
  private(set) var bytes: [UInt8] = []
  private(set) var symbols = 0
  private(set) var sectionHeaders = 0

  init() {
    // name, value, size, info (binding << 4 | type), section
    let entries: [(String, UInt64, UInt64, UInt8, UInt16)] = [
      ("__vigil_alpha_alias", 0x40_1000, 0x10, 0x12, 1), ("vigil_alpha", 0x40_1000, 0x10, 0x22, 1),
      ("asm_fn", 0x40_1010, 8, 0x10, 1), ("label", 0x40_1018, 0, 0x00, 1),
      ("vigil_beta", 0x40_1020, 0, 0x12, 1), ("data_obj", 0x40_1080, 4, 0x11, 1),
      ("undefined_fn", 0, 0, 0x12, 0), ("absolute", 0x40_1090, 4, 0x12, 0xfff1),
    ]
    var strings: [UInt8] = [0]
    var symtab = [UInt8](repeating: 0, count: 24)
    for (name, value, size, info, section) in entries {
      var entry = [UInt8](repeating: 0, count: 24)
      entry.put(UInt64(strings.count), at: 0, width: 4)
      entry.put(UInt64(info), at: 4, width: 1)
      entry.put(UInt64(section), at: 6, width: 2)
      entry.put(value, at: 8, width: 8)
      entry.put(size, at: 16, width: 8)
      symtab += entry
      strings += Array(name.utf8) + [0]
    }
    let stringsOffset = 64 + 56
    symbols = stringsOffset + strings.count
    sectionHeaders = symbols + symtab.count
    bytes = [UInt8](repeating: 0, count: 64 + 56) + strings + symtab
    bytes += [UInt8](repeating: 0, count: 4 * 64)
    for (offset, value, width) in [
      (0, 0x7f, 1), (1, 0x45, 1), (2, 0x4c, 1), (3, 0x46, 1), (4, 2, 1), (5, 1, 1), (6, 1, 1),
      (0x10, 3, 2), (0x12, 62, 2), (0x14, 1, 4), (0x20, 64, 8), (0x28, sectionHeaders, 8),
      (0x34, 64, 2), (0x36, 56, 2), (0x38, 1, 2), (0x3a, 64, 2), (0x3c, 4, 2),
      // PT_LOAD, R+X, the whole file at 0x400000.
      (64, 1, 4), (68, 5, 4), (72, 0, 8), (80, 0x40_0000, 8), (96, bytes.count, 8),
      (104, bytes.count, 8),
    ] as [(Int, Int, Int)] {
      bytes.put(UInt64(value), at: offset, width: width)
    }
    // Section headers: null, .text (NOBITS), .symtab (link 3, entry size 24), .strtab.
    let sections: [(type: Int, address: Int, offset: Int, size: Int, link: Int, entrySize: Int)] = [
      (8, 0x40_1000, 0, 0x100, 0, 0), (2, 0, symbols, symtab.count, 3, 24),
      (3, 0, stringsOffset, strings.count, 0, 0),
    ]
    for (index, section) in sections.enumerated() {
      let header = sectionHeaders + (index + 1) * 64
      for (offset, value, width) in [
        (4, section.type, 4), (16, section.address, 8), (24, section.offset, 8),
        (32, section.size, 8),
        (40, section.link, 4), (56, section.entrySize, 8),
      ] {
        bytes.put(UInt64(value), at: header + offset, width: width)
      }
    }
  }
}

extension [UInt8] {
  fileprivate mutating func put(_ value: UInt64, at offset: Int, width: Int) {
    for byte in 0..<width { self[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte)) }
  }
}
