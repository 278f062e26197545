/// A Go executable read from a file or from memory, without running it.
///
/// Opening parses the ELF headers, the build information and the pclntab header; everything else
/// is read on demand. A corrupt or hostile file gives a `GoRuntimeError`, never a trap, and no
/// read is larger than the file or `ByteSource.maxRead`.
public struct GoBinary: Sendable {
  let image: ELFImage
  let pclntab: PCLNTab?
  /// The build information blob, if the binary has one (every Go 1.13+ binary).
  public let buildInfo: GoBuildInfo?

  public init(path: String) throws { try self.init(ByteSource(path: path)) }

  public init(bytes: [UInt8]) throws { try self.init(ByteSource(bytes: bytes)) }

  private init(_ source: ByteSource) throws {
    image = try ELFImage(source)
    buildInfo = try GoBuildInfo.read(from: image)
    // PIE binaries keep the table among the relocated read-only data.
    guard
      let section = image.section(named: ".gopclntab")
        ?? image.section(named: ".data.rel.ro.gopclntab")
    else {
      pclntab = nil
      return
    }
    var table: PCLNTab
    do {
      table = try PCLNTab(data: try image.contents(of: section), path: source.path)
    } catch GoRuntimeError.unsupported(let path, let reason) {
      throw GoRuntimeError.unsupported(
        path: path, reason: "\(buildInfo?.version ?? "Go"): \(reason)")
    }
    if table.textStart == 0 {
      guard
        let text = try ModuleData.textStart(
          in: image, pclntabAddress: section.address, funcnameOffset: table.funcnameOffset)
      else { throw source.malformed("no moduledata gives the text start") }
      table.textStart = text
    }
    pclntab = table
  }

  public var path: String { image.source.path }
  /// True for binaries with Go build information or a Go pclntab.
  public var isGo: Bool { buildInfo != nil || pclntab != nil }
  /// The toolchain that built the binary, e.g. `go1.22.10`.
  public var version: String? { buildInfo?.version }
  public var goVersion: GoVersion? { version.flatMap(GoVersion.init) }
  public var modulePath: String? { buildInfo?.modulePath }
  public var mainPackage: String? { buildInfo?.mainPackage }
  /// True without `.symtab` (`-ldflags=-s`).
  public var isStripped: Bool { !image.hasSymbolTable }
  /// True with DWARF type information (absent with `-ldflags=-w`).
  public var hasDWARF: Bool { image.section(named: ".debug_info") != nil }

  private func goTable() throws -> PCLNTab {
    guard let pclntab else { throw GoRuntimeError.notGo(path: path) }
    return pclntab
  }

  /// The function named `name` (e.g. `runtime.gopark`), from the pclntab.
  public func function(named name: String) throws -> GoFunction? {
    try goTable().function(named: name)
  }

  /// The function whose code contains `pc` (an address in the file's layout).
  public func function(containing pc: UInt64) throws -> GoFunction? {
    try goTable().function(containing: pc)
  }

  /// Function, file and line of `pc`; nil outside the Go text or where the tables have no line.
  public func sourceLocation(for pc: UInt64) throws -> GoSourceLocation? {
    try goTable().sourceLocation(for: pc)
  }

  /// The address of a symbol: from `.symtab` when present (an assembly function's `.abi0` name
  /// is found under its Go name); in stripped binaries, functions from the pclntab and the
  /// runtime variables described at `strippedVariable(named:)`. Throws `symbolNotFound`
  /// naming the symbol when it cannot be found.
  public func symbol(named name: String) throws -> GoSymbol {
    guard isGo else { throw GoRuntimeError.notGo(path: path) }
    if image.hasSymbolTable {
      let found = try image.symbols(named: [name, name + ".abi0"])
      guard let symbol = found[name] ?? found[name + ".abi0"] else {
        throw GoRuntimeError.symbolNotFound(name: name, reason: "not in .symtab")
      }
      return GoSymbol(name: name, address: symbol.address, size: symbol.size, source: .symtab)
    }
    if let function = try pclntab?.function(named: name) {
      return GoSymbol(
        name: name, address: function.entry, size: function.end - function.entry,
        source: .pclntab)
    }
    return try strippedVariable(named: name)
  }

  /// The offset in the file of the code at `address` (for a uprobe), from the PT_LOAD segment
  /// holding it.
  public func fileOffset(ofAddress address: UInt64) throws -> UInt64 {
    guard
      let segment = image.segments.first(where: {
        $0.isExecutable && address >= $0.address && address - $0.address < $0.fileSize
      })
    else {
      throw image.source.malformed(
        "0x\(String(address, radix: 16)) is in no executable segment of the file")
    }
    return segment.fileOffset + (address - segment.address)
  }

  /// Where a thread keeps its running goroutine: the `g` pointer is at this offset from the
  /// thread pointer (x86-64 `fs` base). The runtime's TLS slot `runtime.tlsg` sits in the
  /// executable's PT_TLS block, which ends at the thread pointer (-8 for the Go linker's usual
  /// 8-byte block; a stripped binary's slot is taken to be at the block's start).
  public func gThreadPointerOffset() throws -> Int64 {
    guard isGo else { throw GoRuntimeError.notGo(path: path) }
    guard let block = image.threadLocal, block.memorySize > 0 else { return -8 }
    let alignment = max(block.alignment, 1)
    guard block.memorySize <= 1 << 20, alignment <= 1 << 12 else {
      throw image.source.malformed("PT_TLS of \(block.memorySize) bytes, aligned \(alignment)")
    }
    let blockSize = (block.memorySize + alignment - 1) / alignment * alignment
    let slot =
      image.hasSymbolTable
      ? (try? image.symbols(named: ["runtime.tlsg"]))?["runtime.tlsg"]?.address ?? 0 : 0
    guard slot < blockSize else { throw image.source.malformed("runtime.tlsg at \(slot)") }
    return Int64(slot) - Int64(blockSize)
  }

  /// `runtime.waitReasonStrings`: the name of each `g.waitreason` value, read from the binary.
  public func waitReasons() throws -> [String] {
    try strings(symbol(named: "runtime.waitReasonStrings"))
  }

  /// `runtime.gStatusStrings`: the name of each `g.atomicstatus` value, read from the binary.
  public func goroutineStatusNames() throws -> [String] {
    try strings(symbol(named: "runtime.gStatusStrings"))
  }

  /// The contents of a `[N]string` variable.
  func strings(_ symbol: GoSymbol) throws -> [String] {
    guard symbol.size % 16 == 0, symbol.size <= 4096 * 16 else {
      throw image.source.malformed("\(symbol.name) of \(symbol.size) bytes is no string array")
    }
    let headers = try image.read(address: symbol.address, count: symbol.size, what: symbol.name)
    return try stride(from: 0, to: headers.count, by: 16).map { offset in
      let pointer = headers.le(offset, as: UInt64.self) ?? 0
      let length = headers.le(offset + 8, as: UInt64.self) ?? 0
      guard length > 0 else { return "" }
      guard length <= 4096 else {
        throw image.source.malformed("\(symbol.name) has a string of \(length) bytes")
      }
      let bytes = try image.read(address: pointer, count: length, what: "\(symbol.name) entry")
      return String(decoding: bytes, as: UTF8.self)
    }
  }

  /// Where the struct offsets came from.
  public enum OffsetsSource: String, Sendable {
    case dwarf
    /// The generated table for the binary's Go minor release.
    case table
  }

  /// The runtime struct offsets: from DWARF when the binary has it, else from the generated
  /// table for its Go minor release.
  public func offsets() throws -> (offsets: GoOffsets, source: OffsetsSource) {
    guard isGo else { throw GoRuntimeError.notGo(path: path) }
    if hasDWARF { return (try dwarfOffsets(), .dwarf) }
    guard let release = goVersion else {
      throw GoRuntimeError.offsetsUnavailable(
        path: path, reason: "no DWARF and no parseable Go version (\(version ?? "none"))")
    }
    guard let entry = GoOffsetsTable.entry(for: release) else {
      throw GoRuntimeError.offsetsUnavailable(
        path: path,
        reason: "no DWARF, and go\(release.major).\(release.minor) is not in the table ("
          + GoOffsetsTable.supportedReleases.joined(separator: ", ") + ")")
    }
    return (entry.offsets, .table)
  }

  private func dwarfOffsets() throws -> GoOffsets {
    func contents(_ name: String) throws -> [UInt8] {
      try image.section(named: ".debug_" + name).map(image.contents(of:)) ?? []
    }
    let sections = DWARFStructs.Sections(
      info: try contents("info"), abbrev: try contents("abbrev"), str: try contents("str"),
      lineStr: try contents("line_str"))
    let layouts = try DWARFStructs(sections: sections, path: path).layouts(
      of: GoOffsets.structNames)
    return try GoOffsets(layouts: layouts, path: path)
  }
}
