/// The sections, load segments and symbols of an ELF64 little-endian file, read on demand.
struct ELFImage: Sendable {
  struct Section: Sendable {
    static let noBits: UInt32 = 8  // SHT_NOBITS
    static let symbolTable: UInt32 = 2  // SHT_SYMTAB
    static let compressed: UInt64 = 0x800  // SHF_COMPRESSED

    var name: String
    var type: UInt32
    var flags: UInt64
    var address: UInt64
    var offset: UInt64
    var size: UInt64
    var link: UInt32
  }

  struct Segment: Sendable {
    var fileOffset: UInt64
    var address: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
    var flags: UInt32

    var isWritable: Bool { flags & 2 != 0 }
    var isExecutable: Bool { flags & 1 != 0 }
  }

  /// The PT_TLS segment: the executable's thread-local block, just below the thread pointer.
  struct ThreadLocalSegment: Sendable {
    var memorySize: UInt64
    var alignment: UInt64
  }

  /// An entry of `.symtab`.
  struct Symbol: Sendable {
    var address: UInt64
    var size: UInt64
  }

  let source: ByteSource
  /// `e_machine`: 62 is x86-64.
  let machine: UInt16
  let sections: [Section]
  let segments: [Segment]
  let threadLocal: ThreadLocalSegment?

  init(_ source: ByteSource) throws {
    self.source = source
    guard source.size >= 64 else { throw GoRuntimeError.notELF(path: source.path) }
    let header = try source.read(at: 0, count: 64, what: "ELF header")
    guard header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]) else {
      throw GoRuntimeError.notELF(path: source.path)
    }
    guard header[4] == 2, header[5] == 1 else {
      throw GoRuntimeError.unsupported(
        path: source.path, reason: "ELF class \(header[4]), data \(header[5]); need ELF64 LE")
    }
    machine = header.le(0x12) ?? 0
    let programHeaders = try Self.programHeaders(source, header)
    segments = try Self.segments(source, programHeaders)
    threadLocal = Self.threadLocal(programHeaders)
    sections = try Self.sections(source, header)
  }

  func section(named name: String) -> Section? { sections.first { $0.name == name } }

  /// A section's contents, decompressed if SHF_COMPRESSED (how Go's linker compresses DWARF).
  func contents(of section: Section) throws -> [UInt8] {
    guard section.type != Section.noBits else { return [] }
    let raw = try source.read(at: section.offset, count: section.size, what: section.name)
    if section.flags & Section.compressed != 0 {
      // Elf64_Chdr: ch_type (1 = zlib), ch_reserved, ch_size, ch_addralign.
      guard raw.count >= 24, let type: UInt32 = raw.le(0), let size: UInt64 = raw.le(8) else {
        throw source.malformed("\(section.name): truncated compression header")
      }
      guard type == 1 else {
        throw GoRuntimeError.unsupported(
          path: source.path, reason: "\(section.name) compressed with type \(type)")
      }
      return try inflate(raw[24...], expectedSize: size, what: section.name)
    }
    return raw
  }

  private func inflate(_ input: ArraySlice<UInt8>, expectedSize: UInt64, what: String) throws
    -> [UInt8]
  {
    guard expectedSize <= UInt64(ByteSource.maxRead) else {
      throw source.malformed("\(what) decompresses to \(expectedSize) bytes")
    }
    guard let output = Inflate.zlib(input, limit: Int(expectedSize)),
      output.count == Int(expectedSize)
    else { throw source.malformed("\(what): bad zlib data") }
    return output
  }

  /// `count` bytes at virtual address `address`, from the file part of a PT_LOAD segment.
  func read(address: UInt64, count: UInt64, what: String) throws -> [UInt8] {
    guard
      let segment = segments.first(where: {
        address >= $0.address && address - $0.address < $0.fileSize
      }), count <= segment.fileSize - (address - segment.address)
    else {
      throw source.malformed(
        "\(what) at 0x\(String(address, radix: 16)) (+\(count)) is not in the file's segments")
    }
    return try source.read(
      at: segment.fileOffset + (address - segment.address), count: count, what: what)
  }

  /// The file contents of the writable, non-executable segments (Go's data, not its bss).
  func writableContents() throws -> [(address: UInt64, bytes: [UInt8])] {
    try segments.filter { $0.isWritable && !$0.isExecutable }.map {
      ($0.address, try source.read(at: $0.fileOffset, count: $0.fileSize, what: "data segment"))
    }
  }

  /// Whether `address` is inside a writable segment's memory (data or bss).
  func isWritableData(_ address: UInt64) -> Bool {
    segments.contains {
      $0.isWritable && !$0.isExecutable && address >= $0.address
        && address - $0.address < $0.memorySize
    }
  }

  var hasSymbolTable: Bool { sections.contains { $0.type == Section.symbolTable } }

  /// The `.symtab` entries with these names (one pass over the table).
  func symbols(named names: Set<String>) throws -> [String: Symbol] {
    guard let table = sections.first(where: { $0.type == Section.symbolTable }) else { return [:] }
    guard Int(table.link) < sections.count else {
      throw source.malformed("symbol table links to section \(table.link)")
    }
    let entries = try source.read(at: table.offset, count: table.size / 24 * 24, what: ".symtab")
    let strings = try contents(of: sections[Int(table.link)])
    let wanted = names.map { (name: $0, bytes: Array($0.utf8)) }
    var found: [String: Symbol] = [:]
    for entry in stride(from: 0, to: entries.count, by: 24) {
      guard let nameOffset = entries.le(entry, as: UInt32.self).map(Int.init),
        let name = wanted.first(where: { strings.hasCString($0.bytes, at: nameOffset) })?.name,
        found[name] == nil, let address: UInt64 = entries.le(entry + 8),
        let size: UInt64 = entries.le(entry + 16)
      else { continue }
      found[name] = Symbol(address: address, size: size)
    }
    return found
  }

  /// The program header table and its entry size.
  private static func programHeaders(_ source: ByteSource, _ header: [UInt8]) throws -> (
    table: [UInt8], entrySize: Int
  ) {
    guard let offset: UInt64 = header.le(0x20), let size: UInt16 = header.le(0x36),
      let count: UInt16 = header.le(0x38), count > 0
    else { return ([], 56) }
    guard size >= 56 else { throw source.malformed("program header size \(size)") }
    let table = try source.read(
      at: offset, count: UInt64(count) * UInt64(size), what: "program headers")
    return (table, Int(size))
  }

  private static func threadLocal(_ headers: (table: [UInt8], entrySize: Int))
    -> ThreadLocalSegment?
  {
    let (table, size) = headers
    // Type 7 is PT_TLS.
    guard
      let entry = stride(from: 0, to: table.count, by: size).first(where: {
        table.le($0) == UInt32(7)
      })
    else { return nil }
    return ThreadLocalSegment(
      memorySize: table.le(entry + 40) ?? 0, alignment: table.le(entry + 48) ?? 0)
  }

  private static func segments(_ source: ByteSource, _ headers: (table: [UInt8], entrySize: Int))
    throws -> [Segment]
  {
    let (table, size) = headers
    return try stride(from: 0, to: table.count, by: size).compactMap { entry in
      // Type 1 is PT_LOAD.
      guard table.le(entry) == UInt32(1) else { return nil }
      let segment = Segment(
        fileOffset: table.le(entry + 8) ?? 0, address: table.le(entry + 16) ?? 0,
        fileSize: table.le(entry + 32) ?? 0, memorySize: table.le(entry + 40) ?? 0,
        flags: table.le(entry + 4) ?? 0)
      guard segment.fileOffset <= source.size,
        segment.fileSize <= source.size - segment.fileOffset,
        segment.fileSize <= segment.memorySize,
        !segment.address.addingReportingOverflow(segment.memorySize).overflow
      else { throw source.malformed("PT_LOAD at 0x\(String(segment.address, radix: 16))") }
      return segment
    }
  }

  private static func sections(_ source: ByteSource, _ header: [UInt8]) throws -> [Section] {
    guard let offset: UInt64 = header.le(0x28), let size: UInt16 = header.le(0x3a),
      let count: UInt16 = header.le(0x3c), let namesIndex: UInt16 = header.le(0x3e),
      offset != 0, count > 0
    else { return [] }
    guard size >= 64 else { throw source.malformed("section header size \(size)") }
    let table = try source.read(
      at: offset, count: UInt64(count) * UInt64(size), what: "section headers")
    var sections = stride(from: 0, to: table.count, by: Int(size)).map { entry in
      (
        nameOffset: table.le(entry, as: UInt32.self) ?? 0,
        section: Section(
          name: "", type: table.le(entry + 4) ?? 0, flags: table.le(entry + 8) ?? 0,
          address: table.le(entry + 16) ?? 0, offset: table.le(entry + 24) ?? 0,
          size: table.le(entry + 32) ?? 0, link: table.le(entry + 40) ?? 0)
      )
    }
    guard Int(namesIndex) < sections.count else {
      throw source.malformed("section name table index \(namesIndex)")
    }
    let namesSection = sections[Int(namesIndex)].section
    let names = try source.read(
      at: namesSection.offset, count: namesSection.size, what: "section names")
    for index in sections.indices {
      sections[index].section.name = names.cString(at: Int(sections[index].nameOffset)) ?? ""
    }
    return sections.map(\.section)
  }
}
