/// Go's PC/line table (`.gopclntab`, formats of Go 1.18 and later): functions, files and lines.
///
/// Every offset read from the table is checked against the table's size; a bad table gives
/// `GoRuntimeError.malformed`, never a trap.
struct PCLNTab: Sendable {
  static let go118Magic: UInt32 = 0xffff_fff0
  static let go120Magic: UInt32 = 0xffff_fff1

  let data: [UInt8]
  let path: String
  /// The base of function entry offsets: the header's `textStart` until Go 1.25; from Go 1.26
  /// the header has 0 and the owner sets it from the moduledata.
  var textStart: UInt64
  let functionCount: Int
  let quantum: UInt64
  let funcnameOffset: Int
  let cuOffset: Int
  let filetabOffset: Int
  let pctabOffset: Int
  let functabOffset: Int

  init(data: [UInt8], path: String) throws {
    (self.data, self.path) = (data, path)
    func malformed(_ reason: String) -> GoRuntimeError { .malformed(path: path, reason: reason) }
    guard let magic: UInt32 = data.le(0), data.count >= 72 else {
      throw malformed("pclntab of \(data.count) bytes")
    }
    guard magic == Self.go118Magic || magic == Self.go120Magic else {
      throw GoRuntimeError.unsupported(
        path: path, reason: "pclntab magic 0x\(String(magic, radix: 16)) (Go 1.18+ needed)")
    }
    guard data[4] == 0, data[5] == 0, [1, 2, 4].contains(data[6]), data[7] == 8 else {
      throw malformed("pclntab header pad \(data[4]) \(data[5]) quantum \(data[6]) ptr \(data[7])")
    }
    quantum = UInt64(data[6])
    // Words after the 8-byte prefix: nfunc, nfiles, textStart, then the table offsets.
    let words = (1...8).map { data.le(8 * $0) ?? UInt64.max }
    let limit = UInt64(data.count)
    guard words[0] < limit / 8, words[3..<8].allSatisfy({ $0 < limit }) else {
      throw malformed("pclntab header fields beyond the table")
    }
    functionCount = Int(words[0])
    textStart = words[2]
    (funcnameOffset, cuOffset, filetabOffset) = (Int(words[3]), Int(words[4]), Int(words[5]))
    (pctabOffset, functabOffset) = (Int(words[6]), Int(words[7]))
    guard functabOffset <= data.count - (functionCount + 1) * 8 else {
      throw malformed("functab of \(functionCount) functions beyond the table")
    }
  }

  func malformed(_ reason: String) -> GoRuntimeError { .malformed(path: path, reason: reason) }

  /// The functab's `i`th entry offset (0...functionCount; the last is the end of the text).
  private func entryOffset(_ index: Int) -> UInt64 {
    UInt64(data.le(functabOffset + 8 * index, as: UInt32.self) ?? 0)
  }

  var textRange: Range<UInt64> {
    let (low, high) = (textStart &+ entryOffset(0), textStart &+ entryOffset(functionCount))
    return low <= high ? low..<high : low..<low
  }

  /// The functab index of the function containing `pc`, or nil if `pc` is outside the text.
  private func index(containing pc: UInt64) -> Int? {
    guard functionCount > 0, textRange.contains(pc) else { return nil }
    let offset = pc - textStart
    var (low, high) = (0, functionCount)
    while high - low > 1 {
      let middle = low + (high - low) / 2
      if entryOffset(middle) <= offset { low = middle } else { high = middle }
    }
    return low
  }

  /// The function whose code contains `pc`, or nil if `pc` is outside the text.
  func function(containing pc: UInt64) throws -> GoFunction? {
    guard let index = index(containing: pc) else { return nil }
    return try function(at: index).function
  }

  /// The function named `name` (a linear scan; names are compared as bytes).
  func function(named name: String) throws -> GoFunction? {
    let wanted = Array(name.utf8)
    for index in 0..<functionCount {
      let record = try record(at: index)
      guard record.nameOffset >= 0,
        data.hasCString(wanted, at: funcnameOffset + Int(record.nameOffset))
      else { continue }
      return try function(at: index).function
    }
    return nil
  }

  /// File and line of `pc`, with its function.
  func sourceLocation(for pc: UInt64) throws -> GoSourceLocation? {
    guard let index = index(containing: pc) else { return nil }
    let (function, record) = try function(at: index)
    guard let fileNumber = try value(table: record.pcfile, entry: function.entry, pc: pc),
      let line = try value(table: record.pcln, entry: function.entry, pc: pc), fileNumber >= 0
    else { return nil }
    let cuEntry = cuOffset + 4 * (Int(record.cuOffset) + Int(fileNumber))
    guard let fileOffset: UInt32 = data.le(cuEntry), fileOffset != UInt32.max,
      let file = data.cString(at: filetabOffset + Int(fileOffset))
    else { throw malformed("file \(fileNumber) of \(function.name) beyond the tables") }
    return GoSourceLocation(function: function, file: file, line: Int(line))
  }

  /// The fields of a `_func` record that this reader uses.
  private struct Record {
    var entryOffset: UInt32
    var nameOffset: Int32
    var pcfile: UInt32
    var pcln: UInt32
    var cuOffset: UInt32
  }

  private func record(at index: Int) throws -> Record {
    guard let funcOffset: UInt32 = data.le(functabOffset + 8 * index + 4) else {
      throw malformed("functab entry \(index)")
    }
    // entryOff, nameOff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset: 9 words.
    let start = functabOffset + Int(funcOffset)
    guard let entry: UInt32 = data.le(start), let name: UInt32 = data.le(start + 4),
      let pcfile: UInt32 = data.le(start + 20), let pcln: UInt32 = data.le(start + 24),
      let cu: UInt32 = data.le(start + 32)
    else { throw malformed("function record \(index) beyond the table") }
    return Record(
      entryOffset: entry, nameOffset: Int32(bitPattern: name), pcfile: pcfile, pcln: pcln,
      cuOffset: cu)
  }

  private func function(at index: Int) throws -> (function: GoFunction, record: Record) {
    let record = try record(at: index)
    guard UInt64(record.entryOffset) == entryOffset(index) else {
      throw malformed("function record \(index) disagrees with the functab")
    }
    guard record.nameOffset >= 0,
      let name = data.cString(at: funcnameOffset + Int(record.nameOffset))
    else { throw malformed("name of function \(index) beyond the table") }
    let function = GoFunction(
      name: name, entry: textStart &+ entryOffset(index), end: textStart &+ entryOffset(index + 1))
    return (function, record)
  }

  /// Decodes a pc-value table (Go's `pcvalue`): the value in force at `pc`, or nil if none.
  private func value(table: UInt32, entry: UInt64, pc: UInt64) throws -> Int32? {
    guard table != 0 else { return nil }
    var cursor = ByteCursor(data, offset: pctabOffset + Int(table))
    var (value, current): (Int32, UInt64) = (-1, entry)
    var first = true
    do {
      while true {
        let valueDelta = try cursor.uleb()
        if valueDelta == 0 && !first { return nil }
        first = false
        guard valueDelta <= UInt32.max else { throw CursorError() }
        let delta = UInt32(valueDelta)
        value &+= Int32(bitPattern: (delta & 1 != 0 ? ~(delta >> 1) : delta >> 1))
        let pcDelta = try cursor.uleb()
        guard pcDelta <= UInt32.max else { throw CursorError() }
        current &+= pcDelta * quantum
        if pc < current { return value }
      }
    } catch {
      throw malformed("pc-value table at \(table) runs past the pclntab")
    }
  }
}
