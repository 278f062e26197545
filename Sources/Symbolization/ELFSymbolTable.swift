import Foundation

/// A PT_LOAD program header: which bytes of the file are mapped at which virtual address.
public struct LoadSegment: Sendable, Equatable {
  public var fileOffset: UInt64
  public var virtualAddress: UInt64
  public var fileSize: UInt64
  public var memorySize: UInt64
  public var isExecutable: Bool
}

/// The function symbols (`.symtab` and `.dynsym`) and load segments of an ELF64 little-endian file.
///
/// Every offset and count read from the file is checked against the file size before use, so a
/// truncated or hostile file throws `SymbolizationError` instead of crashing or over-allocating.
public struct ELFSymbolTable: Sendable {
  /// A symbol covering `start..<end`; `name` is an offset into `names`.
  struct Symbol: Sendable {
    var start: UInt64
    var end: UInt64
    var name: UInt32
  }

  /// Sorted by `start`, one symbol per address.
  let symbols: [Symbol]
  /// The string tables of the symbol tables, concatenated.
  let names: [UInt8]
  public let loadSegments: [LoadSegment]
  /// True when the file has no `.symtab` (only exported `.dynsym` names, if any, are known).
  public let isStripped: Bool
  public var symbolCount: Int { symbols.count }

  /// Parses the file at `path`; with `expectedInode`, throws unless the file has that inode.
  public init(contentsOf path: String, expectedInode: UInt64? = nil) throws {
    // O_NONBLOCK: a FIFO swapped in at the path must not hang the caller.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw SymbolizationError.io(path: path, operation: "open", errno: errno) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw SymbolizationError.io(path: path, operation: "fstat", errno: errno)
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw SymbolizationError.unsupported(path: path, reason: "not a regular file")
    }
    if let expectedInode, UInt64(info.st_ino) != expectedInode {
      throw SymbolizationError.inodeMismatch(
        path: path, expected: expectedInode, found: UInt64(info.st_ino))
    }
    try self.init(ELFReader(path: path, size: UInt64(max(info.st_size, 0)), storage: .file(fd)))
  }

  /// Parses an ELF image held in memory.
  public init(bytes: [UInt8]) throws {
    try self.init(ELFReader(path: "<memory>", size: UInt64(bytes.count), storage: .memory(bytes)))
  }

  private init(_ reader: ELFReader) throws {
    let header = try reader.bytes(at: 0, count: 64, what: "ELF header")
    guard header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) else {
      throw SymbolizationError.notELF(path: reader.path)
    }
    guard header[4] == 2, header[5] == 1 else {
      throw SymbolizationError.unsupported(
        path: reader.path, reason: "class \(header[4]), data \(header[5]); need ELF64 little-endian"
      )
    }
    loadSegments = try Self.loadSegments(reader, header)
    let sections = try Self.sections(reader, header)
    isStripped = !sections.contains { $0.type == Section.symbolTable }

    var names: [UInt8] = []
    var candidates: [(symbol: Symbol, rank: Int)] = []
    // One table of each kind: a hostile file could list the same huge table many times.
    for type in [Section.symbolTable, Section.dynamicSymbolTable] {
      guard let table = sections.first(where: { $0.type == type }) else { continue }
      guard table.entrySize == 24 else { throw reader.malformed("symbol size \(table.entrySize)") }
      guard table.link < sections.count, sections[Int(table.link)].type == Section.stringTable
      else {
        throw reader.malformed("symbol table links to section \(table.link), not a string table")
      }
      let strtab = sections[Int(table.link)]
      let entries = try reader.bytes(at: table.offset, count: table.size / 24 * 24, what: "symbols")
      let strings = try reader.bytes(at: strtab.offset, count: strtab.size, what: "string table")
      let base = names.count
      names += strings
      for entry in stride(from: 0, to: entries.count, by: 24) {
        let nameOffset: UInt32 = entries.le(entry)
        let (info, index): (UInt8, UInt16) = (entries[entry + 4], entries.le(entry + 6))
        let (value, size): (UInt64, UInt64) = (entries.le(entry + 8), entries.le(entry + 16))
        let (type, binding) = (info & 0xf, info >> 4)
        // FUNC, GNU_IFUNC, and NOTYPE with a size (assembly); defined in a real section.
        guard type == 2 || type == 10 || (type == 0 && size > 0), index != 0, index < 0xff00,
          value != 0, nameOffset != 0
        else { continue }
        guard nameOffset < strings.count else {
          throw reader.malformed("symbol name offset \(nameOffset) beyond its string table")
        }
        // Without a size, a symbol extends to the end of its section.
        var end = value.addingReportingOverflow(size)
        if size == 0 {
          guard index < sections.count else { continue }
          let section = sections[Int(index)]
          guard value >= section.address, value - section.address < section.size else { continue }
          end = section.address.addingReportingOverflow(section.size)
        }
        guard !end.overflow else { continue }
        let underscores = strings[Int(nameOffset)...].prefix { $0 == UInt8(ascii: "_") }.count
        let rank =
          (size > 0 ? 64 : 0) + (type != 0 ? 32 : 0) + (binding != 0 ? 16 : 0) - min(underscores, 8)
        candidates.append(
          (Symbol(start: value, end: end.partialValue, name: UInt32(base) + nameOffset), rank))
      }
    }
    // Among aliases prefer sized, typed, global names with fewer leading underscores.
    candidates.sort { ($0.symbol.start, $1.rank) < ($1.symbol.start, $0.rank) }
    var symbols: [Symbol] = []
    symbols.reserveCapacity(candidates.count)
    for candidate in candidates where symbols.last?.start != candidate.symbol.start {
      symbols.append(candidate.symbol)
    }
    self.symbols = symbols
    self.names = names
  }

  /// The symbol containing `fileAddress` (an ELF virtual address) and the offset into it.
  public func lookup(_ fileAddress: UInt64) -> (name: String, offset: UInt64)? {
    guard let index = symbols.lastIndex(atOrBefore: fileAddress, key: \.start),
      fileAddress < symbols[index].end
    else { return nil }
    let start = Int(symbols[index].name)
    let end = names[start...].firstIndex(of: 0) ?? names.endIndex
    return (String(decoding: names[start..<end], as: UTF8.self), fileAddress - symbols[index].start)
  }

  /// The ELF virtual address of a file offset, through the PT_LOAD segment containing it.
  public func fileAddress(forFileOffset offset: UInt64) -> UInt64? {
    loadSegments.first { offset >= $0.fileOffset && offset - $0.fileOffset < $0.fileSize }
      .map { offset - $0.fileOffset &+ $0.virtualAddress }
  }

  private static func loadSegments(_ reader: ELFReader, _ header: [UInt8]) throws -> [LoadSegment] {
    let (offset, size, count): (UInt64, UInt16, UInt16) =
      (header.le(0x20), header.le(0x36), header.le(0x38))
    guard count > 0 else { return [] }
    guard size >= 56 else { throw reader.malformed("program header size \(size)") }
    let table = try reader.bytes(
      at: offset, count: UInt64(count) * UInt64(size), what: "program headers")
    var segments: [LoadSegment] = []
    // Type 1 is PT_LOAD.
    for entry in stride(from: 0, to: table.count, by: Int(size))
    where table.le(entry) as UInt32 == 1 {
      let segment = LoadSegment(
        fileOffset: table.le(entry + 8), virtualAddress: table.le(entry + 16),
        fileSize: table.le(entry + 32), memorySize: table.le(entry + 40),
        isExecutable: (table.le(entry + 4) as UInt32) & 1 != 0)
      guard segment.fileOffset <= reader.size, segment.fileSize <= reader.size - segment.fileOffset
      else {
        throw reader.malformed(
          "PT_LOAD at 0x\(String(segment.fileOffset, radix: 16)) beyond the file")
      }
      segments.append(segment)
    }
    return segments
  }

  private static func sections(_ reader: ELFReader, _ header: [UInt8]) throws -> [Section] {
    let (offset, size, count): (UInt64, UInt16, UInt16) =
      (header.le(0x28), header.le(0x3a), header.le(0x3c))
    guard offset != 0, count > 0 else { return [] }
    guard size >= 64 else { throw reader.malformed("section header size \(size)") }
    let table = try reader.bytes(
      at: offset, count: UInt64(count) * UInt64(size), what: "section headers")
    return stride(from: 0, to: table.count, by: Int(size)).map { entry in
      Section(
        type: table.le(entry + 4), address: table.le(entry + 16), offset: table.le(entry + 24),
        size: table.le(entry + 32), link: table.le(entry + 40), entrySize: table.le(entry + 56))
    }
  }
}

private struct Section {
  static let symbolTable: UInt32 = 2  // SHT_SYMTAB
  static let stringTable: UInt32 = 3  // SHT_STRTAB
  static let dynamicSymbolTable: UInt32 = 11  // SHT_DYNSYM

  var type: UInt32
  var address: UInt64
  var offset: UInt64
  var size: UInt64
  var link: UInt32
  var entrySize: UInt64
}

/// Bounds-checked reads from a file (with `pread`, so only the parts parsed are in memory) or a buffer.
private struct ELFReader {
  enum Storage {
    case memory([UInt8])
    case file(Int32)
  }

  /// No single table is read if larger than this, whatever the file claims.
  static let maxRead: UInt64 = 512 << 20

  let path: String
  let size: UInt64
  let storage: Storage

  func malformed(_ reason: String) -> SymbolizationError {
    .malformed(path: path, reason: reason)
  }

  func bytes(at offset: UInt64, count: UInt64, what: String) throws -> [UInt8] {
    guard offset <= size, count <= size - offset else {
      throw malformed(
        "\(what) at 0x\(String(offset, radix: 16)) (+0x\(String(count, radix: 16))) beyond the end "
          + "(0x\(String(size, radix: 16)))")
    }
    guard count <= Self.maxRead else { throw malformed("\(what) too large (\(count) bytes)") }
    let (start, count) = (Int(offset), Int(count))
    switch storage {
    case .memory(let bytes):
      return Array(bytes[start..<start + count])
    case .file(let fd):
      return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        while initialized < count {
          let n = pread(
            fd, buffer.baseAddress! + initialized, count - initialized, off_t(start + initialized))
          if n < 0 && errno == EINTR { continue }
          guard n > 0 else {
            throw n == 0
              ? malformed("file shrank while reading \(what)")
              : SymbolizationError.io(path: path, operation: "read", errno: errno)
          }
          initialized += n
        }
      }
    }
  }
}

extension [UInt8] {
  /// The little-endian integer at `offset`. Callers only pass offsets inside records whose bounds
  /// they checked against the input, so the precondition guards against bugs, not bad files.
  func le<T: FixedWidthInteger & UnsignedInteger>(_ offset: Int) -> T {
    precondition(offset >= 0 && offset <= count - MemoryLayout<T>.size)
    return withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
  }
}

extension RandomAccessCollection where Index == Int {
  /// The index of the last element with `key <= value`, in a collection sorted by `key`.
  func lastIndex(atOrBefore value: UInt64, key: (Element) -> UInt64) -> Int? {
    var (low, high) = (startIndex, endIndex)
    while low < high {
      let middle = low + (high - low) / 2
      if key(self[middle]) <= value { low = middle + 1 } else { high = middle }
    }
    return low > startIndex ? low - 1 : nil
  }
}
