import Dispatch

/// Reads the subset of YAML that policy files are written in, straight from UTF-8 bytes, giving
/// the same tree as Yams (about ten times faster at 10k rules): block mappings and sequences
/// (compact and indentless too), flow mappings and sequences (nested, over several lines),
/// plain, single-quoted and double-quoted scalars on one line, comments, `---` and `...`.
///
/// Everything else throws ``Unsupported`` — anchors, aliases, tags, block scalars, complex keys,
/// directives, tabs, carriage returns, control characters, scalars over several lines — and so
/// does every syntax error; the caller then reads the text with Yams, which has the whole
/// language and reports errors with their line and column.
struct YAMLReader {
  /// The text is outside the subset, or malformed.
  struct Unsupported: Error {}

  /// Texts at least this long are read by two threads (see ``Lookahead``).
  static let lookaheadBytes = 128 << 10

  private let bytes: UnsafeBufferPointer<UInt8>
  /// True when every byte is ASCII, so columns count bytes.
  private let ascii: Bool
  fileprivate private(set) var offset = 0
  fileprivate private(set) var line = 1
  fileprivate private(set) var lineStart = 0
  fileprivate let tree: YAMLTree.Builder
  /// Later items of a block sequence, read on another thread; taken when this reader reaches
  /// them.
  private var lookahead: Lookahead?
  private var tookLookahead = false

  /// Simple keys longer than this are left to Yams (libyaml allows up to 1024 characters).
  private static let maxKeyBytes = 1000

  /// The documents of `yaml` in order; an empty document is an empty plain scalar, as with Yams.
  static func documents(_ yaml: String) throws(Unsupported) -> YAMLTree {
    try read(yaml).tree
  }

  /// The documents of `yaml`, and whether a second thread read part of them. A long text is read
  /// by two threads: the second starts at a block sequence item found from the middle on (or
  /// from `lookaheadFrom`; negative: never).
  static func read(_ yaml: String, lookaheadFrom: Int? = nil) throws(Unsupported) -> (
    tree: YAMLTree, tookLookahead: Bool
  ) {
    var text = yaml
    let read = text.withUTF8 { bytes -> (YAMLTree, Bool)? in
      guard var reader = try? YAMLReader(bytes: bytes) else { return nil }
      let from = lookaheadFrom ?? (bytes.count >= lookaheadBytes ? bytes.count / 2 : -1)
      if from >= 0, let (start, indent) = Self.sequenceItem(in: bytes, after: from) {
        reader.lookahead = Lookahead(
          reading: YAMLReader(bytes: bytes, ascii: reader.ascii, itemAt: start, indent: indent),
          indent: indent)
      }
      let lookahead = reader.lookahead
      // The other thread reads `bytes`: it must be done before they go.
      defer { lookahead?.wait() }
      guard let tree = try? reader.documents() else { return nil }
      return (tree, reader.tookLookahead)
    }
    guard let read else { throw Unsupported() }
    return read
  }

  /// A reader of `bytes`; refuses characters outside the subset up front.
  private init(bytes: UnsafeBufferPointer<UInt8>) throws(Unsupported) {
    self.bytes = bytes
    ascii = try Self.checkCharacters(bytes)
    tree = YAMLTree.Builder(source: bytes, capacity: bytes.count / 4)
  }

  /// A reader of the block sequence item at `start` (a `-` indented by `indent`) and the items
  /// after it; lines are counted from 0 at its line.
  private init(bytes: UnsafeBufferPointer<UInt8>, ascii: Bool, itemAt start: Int, indent: Int) {
    self.bytes = bytes
    self.ascii = ascii
    offset = start
    line = 0
    lineStart = start - indent
    tree = YAMLTree.Builder(source: bytes, capacity: (bytes.count - start) / 4)
  }

  /// The first `-` entry of a block sequence on a line starting after `from`, and its
  /// indentation; nil if none is found within 64 KiB.
  private static func sequenceItem(in bytes: UnsafeBufferPointer<UInt8>, after from: Int) -> (
    start: Int, indent: Int
  )? {
    var index = from
    let limit = min(bytes.count, from + (64 << 10))
    while index < limit {
      guard bytes[index] == .newline else {
        index += 1
        continue
      }
      index += 1
      var column = index
      while column < bytes.count && bytes[column] == .space { column += 1 }
      if column < bytes.count && bytes[column] == .dash
        && (column + 1 == bytes.count || bytes[column + 1] == .space
          || bytes[column + 1] == .newline)
      {
        return (column, column - index)
      }
    }
    return nil
  }

  private mutating func documents() throws(Unsupported) -> YAMLTree {
    // After `---` with no content yet; whether any document began; whether one may start
    // without `---` (only the first).
    var open = false
    var started = false
    while true {
      guard try nextContentLine() != nil else {
        if offset >= bytes.count {
          if open { emptyDocument() }
          return tree.finish()
        }
        let start = byte(0) == .dash
        if start {
          if open { emptyDocument() }
          open = true
        } else {
          guard started else { throw Unsupported() }
          if open { emptyDocument() }
          open = false
        }
        started = true
        offset += 3
        try endOfLine()
        continue
      }
      guard open || !started, byte(0) != UInt8(ascii: "%") else { throw Unsupported() }
      tree.addRoot(tree.count)
      try blockNode(parent: -1)
      open = false
      started = true
    }
  }

  private mutating func emptyDocument() {
    tree.addRoot(tree.count)
    missingValue(at: mark())
  }

  // MARK: Block context

  /// The block node starting at the current position, inside a block indented by `parent`.
  private mutating func blockNode(parent: Int) throws(Unsupported) {
    let indent = column
    switch byte(0) {
    case .dash where isBlankOrEnd(1):
      try blockSequence(indent: indent)
    case .openBracket, .openBrace:
      try flowCollection()
      try endOfInlineValue(parent: parent)
    default:
      let start = offset
      let index = tree.count
      try scalar(flow: false)
      skipSpaces()
      if byte(0) == .colon && isBlankOrEnd(1) {
        guard offset - start <= Self.maxKeyBytes else { throw Unsupported() }
        tree.openMapping(before: index)
        try blockMapping(indent: indent, index: index)
        return
      }
      try endOfInlineValue(parent: parent)
    }
  }

  /// The block mapping opened at `index`, whose keys are at column `indent`; the position is
  /// at the first key's `:`.
  private mutating func blockMapping(indent: Int, index: Int) throws(Unsupported) {
    while true {
      offset += 1  // the `:`
      skipSpaces()
      if isLineEnd(0) {
        let missing = mark()
        try endOfLine()
        if let next = try nextContentLine(), next > indent {
          try blockNode(parent: indent)
        } else if lineIndent == indent && byte(0) == .dash && isBlankOrEnd(1) {
          try blockSequence(indent: indent)
        } else {
          missingValue(at: missing)
        }
      } else {
        guard !(byte(0) == .dash && isBlankOrEnd(1)) else { throw Unsupported() }
        if byte(0) == .openBracket || byte(0) == .openBrace {
          try flowCollection()
        } else {
          try scalar(flow: false)
        }
        try endOfInlineValue(parent: indent)
      }
      guard let next = lineIndent, next >= indent else { break }
      guard next == indent else { throw Unsupported() }
      try blockKey()
    }
    tree.close(index)
  }

  /// A key of a block mapping, on one line, followed by `:` and a space or the line's end.
  private mutating func blockKey() throws(Unsupported) {
    let start = offset
    try scalar(flow: false)
    guard offset - start <= Self.maxKeyBytes else { throw Unsupported() }
    skipSpaces()
    guard byte(0) == .colon && isBlankOrEnd(1) else { throw Unsupported() }
  }

  /// A block sequence whose `-` entries are at column `indent`.
  fileprivate mutating func blockSequence(indent: Int) throws(Unsupported) {
    let (line, column) = mark()
    let index = tree.open(.sequence, line: line, column: column)
    repeat {
      if let lookahead, offset == lookahead.start, indent == lookahead.indent {
        self.lookahead = nil
        // The other thread read on from here with this indentation, as this reader would
        // have, to the sequence's end.
        if let read = lookahead.wait() {
          tree.append(read.tree, from: 1, movingLinesBy: self.line)
          (offset, self.line, lineStart) = (read.offset, self.line + read.line, read.lineStart)
          tookLookahead = true
          break
        }
      }
      offset += 1  // the `-`
      skipSpaces()
      if isLineEnd(0) {
        let missing = mark()
        try endOfLine()
        if let next = try nextContentLine(), next > indent {
          try blockNode(parent: indent)
        } else {
          missingValue(at: missing)
        }
      } else {
        try blockNode(parent: indent)
      }
      guard let next = lineIndent, next >= indent else { break }
      guard next == indent else { throw Unsupported() }
    } while byte(0) == .dash && isBlankOrEnd(1)
    tree.close(index)
  }

  /// After a value written on its key's or entry's line: only a comment may follow, and the
  /// next line must not be indented past `parent` (a continuation, left to Yams).
  private mutating func endOfInlineValue(parent: Int) throws(Unsupported) {
    skipSpaces()
    guard byte(0) != .colon else { throw Unsupported() }
    try endOfLine()
    if let next = try nextContentLine(), next > parent { throw Unsupported() }
  }

  /// A missing value: an empty plain scalar at `position`.
  private mutating func missingValue(at position: (line: Int, column: Int)) {
    tree.scalar(offset..<offset, plain: true, line: position.line, column: position.column)
  }

  // MARK: Flow context

  /// `[...]` or `{...}` at the current position, possibly over several lines.
  private mutating func flowCollection() throws(Unsupported) {
    let (line, column) = mark()
    let isSequence = byte(0) == .openBracket
    let close = isSequence ? UInt8.closeBracket : .closeBrace
    let index = tree.open(isSequence ? .sequence : .mapping, line: line, column: column)
    offset += 1
    while true {
      try skipFlowSpace()
      if byte(0) == close { break }
      if isSequence {
        try flowValue()
        guard byte(0) != .colon else { throw Unsupported() }
      } else {
        let start = offset
        guard byte(0) != .openBracket && byte(0) != .openBrace else { throw Unsupported() }
        try scalar(flow: true)
        guard offset - start <= Self.maxKeyBytes else { throw Unsupported() }
        skipSpaces()
        guard byte(0) == .colon else { throw Unsupported() }
        offset += 1
        try skipFlowSpace()
        guard byte(0) != .comma, byte(0) != close else { throw Unsupported() }
        try flowValue()
      }
      if byte(0) == .comma {
        offset += 1
      } else {
        guard byte(0) == close else { throw Unsupported() }
        break
      }
    }
    offset += 1
    tree.close(index)
  }

  /// A node inside a flow collection, and the space after it; a plain scalar continued on the
  /// next line is left to Yams.
  private mutating func flowValue() throws(Unsupported) {
    if byte(0) == .openBracket || byte(0) == .openBrace {
      try flowCollection()
      try skipFlowSpace()
      return
    }
    let plain = byte(0) != .doubleQuote && byte(0) != .singleQuote
    try scalar(flow: true)
    let crossedLine = try skipFlowSpace()
    if plain && crossedLine && byte(0) != .comma && byte(0) != .closeBracket
      && byte(0) != .closeBrace
    {
      throw Unsupported()
    }
  }

  /// Skips spaces, line breaks and comments; true when a line break was crossed.
  @discardableResult
  private mutating func skipFlowSpace() throws(Unsupported) -> Bool {
    var crossedLine = false
    while true {
      switch byte(0) {
      case .space: offset += 1
      case .newline:
        newline()
        crossedLine = true
        if isDocumentMarker { throw Unsupported() }
      case .hash: skipToLineEnd()
      default: return crossedLine
      }
    }
  }

  // MARK: Scalars

  /// A plain or quoted scalar on the current line.
  private mutating func scalar(flow: Bool) throws(Unsupported) {
    let (line, column) = mark()
    switch byte(0) {
    case .doubleQuote, .singleQuote:
      let double = byte(0) == .doubleQuote
      let start = tree.textEnd
      let range = double ? try doubleQuoted() : try singleQuoted()
      tree.scalar(range ?? start..<tree.textEnd, plain: false, line: line, column: column)
    default:
      tree.scalar(try plain(flow: flow), plain: true, line: line, column: column)
    }
  }

  /// A plain scalar to the end of its line, a comment, a `: `, or (in flow) an indicator.
  private mutating func plain(flow: Bool) throws(Unsupported) -> Range<Int> {
    let first = byte(0)
    switch first {
    case .comma, .openBracket, .closeBracket, .openBrace, .closeBrace, .hash, .ampersand,
      .asterisk, .exclamation, .pipe, .greater, .singleQuote, .doubleQuote, .percent, .at,
      .backtick, .space, .newline, 0:
      throw Unsupported()
    case .dash, .question, .colon:
      guard !(flow && first != .dash), !isBlankOrEnd(1), !(flow && Self.isFlowIndicator(byte(1)))
      else { throw Unsupported() }
    default: break
    }
    // The scan keeps its position in a local: the bytes are most of the text.
    let start = offset
    var index = offset
    var end = offset
    defer { offset = index }
    let count = bytes.count
    scan: while index < count {
      let current = bytes[index]
      if !Self.mayEndPlain(current) {
        index += 1
        end = index
        continue scan
      }
      let next = index + 1 < count ? bytes[index + 1] : 0
      switch current {
      case .newline, 0: break scan
      case .space:
        if next == .hash { break scan }
        index += 1
        continue scan
      case .colon:
        if next == .space || next == .newline || next == 0 { break scan }
        if flow && (next == .question || Self.isFlowIndicator(next)) { throw Unsupported() }
      case .comma, .openBracket, .closeBracket, .openBrace, .closeBrace:
        if flow { break scan }
      default: break
      }
      index += 1
      end = index
    }
    return start..<end
  }

  /// `'...'` on one line, `''` standing for `'`: the text's range in the source, or nil when
  /// it had to be unescaped to the tree's texts.
  private mutating func singleQuoted() throws(Unsupported) -> Range<Int>? {
    offset += 1
    let start = offset
    var escaped = false
    while true {
      let current = byte(0)
      guard current != .newline && current != 0 else { throw Unsupported() }
      if current == .singleQuote {
        guard byte(1) == .singleQuote else { break }
        if !escaped { tree.appendText(bytes[start..<offset]) }
        escaped = true
        tree.appendText(.singleQuote)
        offset += 2
        continue
      }
      if escaped { tree.appendText(current) }
      offset += 1
    }
    offset += 1
    return escaped ? nil : start..<offset - 1
  }

  /// `"..."` on one line, with libyaml's escapes: the text's range in the source, or nil when it
  /// had to be unescaped to the tree's texts.
  private mutating func doubleQuoted() throws(Unsupported) -> Range<Int>? {
    offset += 1
    let start = offset
    var escaped = false
    while true {
      let current = byte(0)
      guard current != .newline && current != 0 else { throw Unsupported() }
      if current == .doubleQuote { break }
      guard current == .backslash else {
        if escaped { tree.appendText(current) }
        offset += 1
        continue
      }
      if !escaped { tree.appendText(bytes[start..<offset]) }
      escaped = true
      let code = byte(1)
      offset += 2
      var digits = 0
      switch code {
      case UInt8(ascii: "0"): tree.appendText(0)
      case UInt8(ascii: "a"): tree.appendText(0x07)
      case UInt8(ascii: "b"): tree.appendText(0x08)
      case UInt8(ascii: "t"): tree.appendText(0x09)
      case UInt8(ascii: "n"): tree.appendText(0x0A)
      case UInt8(ascii: "v"): tree.appendText(0x0B)
      case UInt8(ascii: "f"): tree.appendText(0x0C)
      case UInt8(ascii: "r"): tree.appendText(0x0D)
      case UInt8(ascii: "e"): tree.appendText(0x1B)
      case .space, .doubleQuote, .slash, .backslash: tree.appendText(code)
      case UInt8(ascii: "N"): tree.appendText([0xC2, 0x85])
      case UInt8(ascii: "_"): tree.appendText([0xC2, 0xA0])
      case UInt8(ascii: "L"): tree.appendText([0xE2, 0x80, 0xA8])
      case UInt8(ascii: "P"): tree.appendText([0xE2, 0x80, 0xA9])
      case UInt8(ascii: "x"): digits = 2
      case UInt8(ascii: "u"): digits = 4
      case UInt8(ascii: "U"): digits = 8
      default: throw Unsupported()
      }
      guard digits > 0 else { continue }
      var value: UInt32 = 0
      for _ in 0..<digits {
        guard let digit = Self.hexValue(byte(0)) else { throw Unsupported() }
        value = value << 4 | digit
        offset += 1
      }
      guard let scalar = Unicode.Scalar(value) else { throw Unsupported() }
      tree.appendText(String(Character(scalar)).utf8)
    }
    offset += 1
    return escaped ? nil : start..<offset - 1
  }

  // MARK: Lines and positions

  /// Moves past blank and comment-only lines to the first character of the next content line
  /// and returns its indentation; nil at the end or at a `---` or `...` line (left unread).
  private mutating func nextContentLine() throws(Unsupported) -> Int? {
    while true {
      skipSpaces()
      switch byte(0) {
      case .newline: newline()
      case .hash: skipToLineEnd()
      case 0: return nil
      default: return lineIndent
      }
    }
  }

  /// The indentation of the current line when the position is at its first character; nil at
  /// the end or at a document marker.
  @inline(__always)
  private var lineIndent: Int? {
    offset >= bytes.count || isDocumentMarker ? nil : column
  }

  /// `---` or `...` at the start of a line, followed by a space or the line's end.
  @inline(__always)
  private var isDocumentMarker: Bool {
    guard offset == lineStart, offset + 3 <= bytes.count else { return false }
    let first = bytes[offset]
    return (first == .dash || first == .dot) && bytes[offset + 1] == first
      && bytes[offset + 2] == first && isBlankOrEnd(3)
  }

  /// Spaces and a comment to the end of the line, then the line break.
  private mutating func endOfLine() throws(Unsupported) {
    skipSpaces()
    if byte(0) == .hash { skipToLineEnd() }
    switch byte(0) {
    case .newline: newline()
    case 0: break
    default: throw Unsupported()
    }
  }

  @inline(__always)
  private mutating func skipSpaces() {
    while byte(0) == .space { offset += 1 }
  }

  private mutating func skipToLineEnd() {
    while byte(0) != .newline && byte(0) != 0 { offset += 1 }
  }

  @inline(__always)
  private mutating func newline() {
    offset += 1
    line += 1
    lineStart = offset
  }

  /// The byte `ahead` of the position; 0 past the end (a NUL in the text is refused).
  @inline(__always)
  private func byte(_ ahead: Int) -> UInt8 {
    offset + ahead < bytes.count ? bytes[offset + ahead] : 0
  }

  @inline(__always)
  private func isBlankOrEnd(_ ahead: Int) -> Bool {
    let value = byte(ahead)
    return value == .space || value == .newline || value == 0
  }

  /// The end of the line's content: its end, or a comment.
  @inline(__always)
  private func isLineEnd(_ ahead: Int) -> Bool {
    let value = byte(ahead)
    return value == .newline || value == 0 || value == .hash
  }

  @inline(__always)
  private var column: Int { offset - lineStart }

  /// The position as Yams gives it: line and column from 1, columns counted in characters.
  @inline(__always)
  private func mark() -> (line: Int, column: Int) {
    if ascii { return (line, column + 1) }
    var characters = 1
    for index in lineStart..<offset where bytes[index] & 0xC0 != 0x80 { characters += 1 }
    return (line, characters)
  }

  /// Whether `value` is a byte `plain(flow:)` must look at: one that may end a plain scalar or
  /// start a comment after it (a line break, a space, `:`, `,`, a bracket or brace), or 0.
  @inline(__always)
  private static func mayEndPlain(_ value: UInt8) -> Bool {
    // Bit n: byte n (below 64) or byte 64 + n (below 128).
    let low: UInt64 = 1 << 0 | 1 << 0x0A | 1 << 0x20 | 1 << 0x2C | 1 << 0x3A
    let high: UInt64 = 1 << (0x5B - 64) | 1 << (0x5D - 64) | 1 << (0x7B - 64) | 1 << (0x7D - 64)
    return value < 64 ? low >> value & 1 != 0 : value < 128 && high >> (value - 64) & 1 != 0
  }

  private static func isFlowIndicator(_ value: UInt8) -> Bool {
    value == .comma || value == .openBracket || value == .closeBracket || value == .openBrace
      || value == .closeBrace
  }

  private static func hexValue(_ value: UInt8) -> UInt32? {
    switch value {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(value - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(value - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(value - UInt8(ascii: "A") + 10)
    default: nil
    }
  }

  /// Refuses what the reader leaves to Yams wherever it appears: control characters (tab and
  /// carriage return included), a byte order mark, and the characters YAML 1.1 counts as line
  /// breaks or libyaml refuses (NEL and other C1 controls, U+2028, U+2029, U+FFFE, U+FFFF).
  /// Returns whether the text is all ASCII.
  private static func checkCharacters(_ bytes: UnsafeBufferPointer<UInt8>) throws(Unsupported)
    -> Bool
  {
    var ascii = true
    var index = 0
    let raw = UnsafeRawBufferPointer(bytes)
    let (ones, highs) = (UInt64(0x0101_0101_0101_0101), UInt64(0x8080_8080_8080_8080))
    while index < bytes.count {
      // Eight printable ASCII bytes at a time (no high bit, none below 0x20, no DEL); anything
      // else, a line break included, goes one character at a time.
      if index + 8 <= bytes.count {
        let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
        let del = word ^ (0x7F &* ones)
        if (word | ((word &- 0x20 &* ones) & ~word) | ((del &- ones) & ~del)) & highs == 0 {
          index += 8
          continue
        }
      }
      let lead = bytes[index]
      if lead < 0x80 {
        guard lead >= 0x20 && lead != 0x7F || lead == .newline else { throw Unsupported() }
        index += 1
        continue
      }
      ascii = false
      switch lead {
      case 0xC2:
        guard index + 1 < bytes.count, bytes[index + 1] >= 0xA0 else { throw Unsupported() }
      case 0xE2:
        guard index + 2 < bytes.count,
          !(bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9))
        else { throw Unsupported() }
      case 0xEF:
        guard index + 2 < bytes.count,
          !(bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF),
          !(bytes[index + 1] == 0xBF && bytes[index + 2] >= 0xBE)
        else { throw Unsupported() }
      default: break
      }
      index += 1
      while index < bytes.count && bytes[index] & 0xC0 == 0x80 { index += 1 }
    }
    return ascii
  }
}

/// The items of a block sequence from a given one on, read by a reader of their own on another
/// thread while the main reader reads the text before them. The main reader takes them only if
/// it reaches that item as an item of a sequence with the same indentation: then its own reading
/// would have been the same. Otherwise (or if the other reader failed) they are dropped.
private final class Lookahead: @unchecked Sendable {
  /// What the other reader read: its tree (the sequence, then the items) and where it stopped.
  struct Read {
    var tree: YAMLTree.Builder
    var offset: Int
    /// Lines read past the first item's.
    var line: Int
    var lineStart: Int
  }

  let start: Int
  let indent: Int
  private let done = DispatchSemaphore(value: 0)
  /// Used by the other thread only, until it signals `done`.
  private var reader: YAMLReader
  /// Written by the other thread before it signals `done`; read after waiting on it.
  private var read: Read?

  /// Starts `reader`, positioned at the first item, on another thread.
  init(reading reader: YAMLReader, indent: Int) {
    start = reader.offset
    self.indent = indent
    self.reader = reader
    DispatchQueue.global().async { [self] in
      if (try? self.reader.blockSequence(indent: indent)) != nil {
        let reader = self.reader
        read = Read(
          tree: reader.tree, offset: reader.offset, line: reader.line,
          lineStart: reader.lineStart)
      }
      done.signal()
    }
  }

  /// Waits for the other reader; nil if it failed.
  @discardableResult
  func wait() -> Read? {
    done.wait()
    done.signal()
    return read
  }
}

extension UInt8 {
  fileprivate static var newline: UInt8 { UInt8(ascii: "\n") }
  fileprivate static var space: UInt8 { UInt8(ascii: " ") }
  fileprivate static var dash: UInt8 { UInt8(ascii: "-") }
  fileprivate static var dot: UInt8 { UInt8(ascii: ".") }
  fileprivate static var colon: UInt8 { UInt8(ascii: ":") }
  fileprivate static var comma: UInt8 { UInt8(ascii: ",") }
  fileprivate static var hash: UInt8 { UInt8(ascii: "#") }
  fileprivate static var question: UInt8 { UInt8(ascii: "?") }
  fileprivate static var openBracket: UInt8 { UInt8(ascii: "[") }
  fileprivate static var closeBracket: UInt8 { UInt8(ascii: "]") }
  fileprivate static var openBrace: UInt8 { UInt8(ascii: "{") }
  fileprivate static var closeBrace: UInt8 { UInt8(ascii: "}") }
  fileprivate static var singleQuote: UInt8 { UInt8(ascii: "'") }
  fileprivate static var doubleQuote: UInt8 { UInt8(ascii: "\"") }
  fileprivate static var backslash: UInt8 { UInt8(ascii: "\\") }
  fileprivate static var slash: UInt8 { UInt8(ascii: "/") }
  fileprivate static var ampersand: UInt8 { UInt8(ascii: "&") }
  fileprivate static var asterisk: UInt8 { UInt8(ascii: "*") }
  fileprivate static var exclamation: UInt8 { UInt8(ascii: "!") }
  fileprivate static var pipe: UInt8 { UInt8(ascii: "|") }
  fileprivate static var greater: UInt8 { UInt8(ascii: ">") }
  fileprivate static var percent: UInt8 { UInt8(ascii: "%") }
  fileprivate static var at: UInt8 { UInt8(ascii: "@") }
  fileprivate static var backtick: UInt8 { UInt8(ascii: "`") }
}
