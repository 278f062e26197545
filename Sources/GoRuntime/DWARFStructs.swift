/// Reads the member offsets of named structs from DWARF 2–5 `.debug_info`.
///
/// A single pass over the debugging information entries, stopping once every wanted struct is
/// found; every read is bounds-checked, and a malformed unit gives `GoRuntimeError.malformed`.
struct DWARFStructs {
  struct Layout: Sendable, Equatable {
    var size: UInt64?
    var members: [String: UInt64]
  }

  struct Sections {
    var info: [UInt8]
    var abbrev: [UInt8]
    var str: [UInt8]
    var lineStr: [UInt8]
  }

  private struct Abbreviation {
    var tag: UInt64
    var hasChildren: Bool
    var attributes: [(name: UInt64, form: UInt64, implicitConstant: Int64)]
  }

  /// What a unit header says about how to read its attribute values.
  private struct Unit {
    var version: UInt16
    var offsetSize: Int
    var addressSize: Int
  }

  private enum Tag {
    static let member: UInt64 = 0x0d
    static let structure: UInt64 = 0x13
  }

  private enum Attribute {
    static let name: UInt64 = 0x03
    static let byteSize: UInt64 = 0x0b
    static let memberLocation: UInt64 = 0x38
  }

  /// A value this reader keeps: the rest are skipped.
  private enum Value {
    case constant(UInt64)
    case string(String)
    case block(ArraySlice<UInt8>)
  }

  /// Limits that keep a hostile file's cost proportional to its size.
  static let maxAbbreviationTables = 64
  static let maxAttributes = 64

  let sections: Sections
  let path: String

  func layouts(of names: Set<String>) throws -> [String: Layout] {
    do {
      return try read(names)
    } catch is CursorError {
      throw GoRuntimeError.malformed(path: path, reason: "DWARF data runs past its section")
    }
  }

  private func malformed(_ reason: String) -> GoRuntimeError {
    .malformed(path: path, reason: "DWARF: \(reason)")
  }

  private func read(_ names: Set<String>) throws -> [String: Layout] {
    var found: [String: Layout] = [:]
    var abbreviationTables: [UInt64: [UInt64: Abbreviation]] = [:]
    var unitStart = 0
    while unitStart < sections.info.count, found.count < names.count {
      var cursor = ByteCursor(sections.info, offset: unitStart)
      var length = UInt64(try cursor.le(UInt32.self))
      var offsetSize = 4
      if length == 0xffff_ffff {
        (length, offsetSize) = (try cursor.le(UInt64.self), 8)
      }
      guard length <= UInt64(sections.info.count - cursor.offset) else {
        throw malformed("unit at \(unitStart) of \(length) bytes")
      }
      let end = cursor.offset + Int(length)
      cursor.end = end
      unitStart = end
      let version = try cursor.le(UInt16.self)
      let abbreviationOffset: UInt64
      let addressSize: Int
      switch version {
      case 2...4:
        abbreviationOffset = try cursor.unsigned(size: offsetSize)
        addressSize = Int(try cursor.u8())
      case 5:
        let unitType = try cursor.u8()
        addressSize = Int(try cursor.u8())
        abbreviationOffset = try cursor.unsigned(size: offsetSize)
        // Skeleton and split units carry a unit id; type units a signature and type offset.
        switch unitType {
        case 4, 5: try cursor.skip(8)
        case 2, 6: try cursor.skip(8 + UInt64(offsetSize))
        default: break
        }
      default:
        throw GoRuntimeError.unsupported(path: path, reason: "DWARF version \(version)")
      }
      if abbreviationTables[abbreviationOffset] == nil {
        // Go writes one table; a hostile file must not make every unit parse its own.
        guard abbreviationTables.count < Self.maxAbbreviationTables else {
          throw malformed("more than \(Self.maxAbbreviationTables) abbreviation tables")
        }
        abbreviationTables[abbreviationOffset] = try abbreviations(at: abbreviationOffset)
      }
      let table = abbreviationTables[abbreviationOffset] ?? [:]
      let unit = Unit(version: version, offsetSize: offsetSize, addressSize: addressSize)
      try readEntries(&cursor, unit: unit, table: table, names: names, into: &found)
    }
    return found
  }

  /// Walks a unit's entries, collecting the members of wanted structs.
  private func readEntries(
    _ cursor: inout ByteCursor, unit: Unit, table: [UInt64: Abbreviation], names: Set<String>,
    into found: inout [String: Layout]
  ) throws {
    var depth = 0
    // The struct being collected and the depth of its members.
    var current: (name: String, depth: Int, layout: Layout)?
    while !cursor.isAtEnd {
      let code = try cursor.uleb()
      if code == 0 {
        depth -= 1
        if let collected = current, depth < collected.depth {
          found[collected.name] = collected.layout
          current = nil
          if found.count == names.count { return }
        }
        continue
      }
      guard let abbreviation = table[code] else { throw malformed("abbreviation code \(code)") }
      var (name, size, location): (String?, UInt64?, UInt64?) = (nil, nil, nil)
      for attribute in abbreviation.attributes {
        let value =
          attribute.form == Form.implicitConstant
          ? .constant(UInt64(bitPattern: attribute.implicitConstant))
          : try self.value(&cursor, form: attribute.form, unit: unit)
        switch (attribute.name, value) {
        case (Attribute.name, .string(let string)?): name = string
        case (Attribute.byteSize, .constant(let constant)?): size = constant
        case (Attribute.memberLocation, .constant(let constant)?): location = constant
        case (Attribute.memberLocation, .block(let block)?): location = plusConstant(block)
        default: break
        }
      }
      if let collected = current, depth == collected.depth, abbreviation.tag == Tag.member,
        let name, let location
      {
        current?.layout.members[name] = location
      } else if current == nil, abbreviation.tag == Tag.structure, abbreviation.hasChildren,
        let name, names.contains(name), found[name] == nil
      {
        current = (name, depth + 1, Layout(size: size, members: [:]))
      }
      if abbreviation.hasChildren { depth += 1 }
    }
  }

  /// The operand of a `DW_OP_plus_uconst` location expression (how DWARF 2 gives member offsets).
  private func plusConstant(_ block: ArraySlice<UInt8>) -> UInt64? {
    var cursor = ByteCursor(Array(block))
    guard (try? cursor.u8()) == 0x23, let constant = try? cursor.uleb(), cursor.isAtEnd else {
      return nil
    }
    return constant
  }

  private func abbreviations(at offset: UInt64) throws -> [UInt64: Abbreviation] {
    guard offset < UInt64(sections.abbrev.count) else {
      throw malformed("abbreviation table at \(offset)")
    }
    var cursor = ByteCursor(sections.abbrev, offset: Int(offset))
    var table: [UInt64: Abbreviation] = [:]
    while true {
      let code = try cursor.uleb()
      if code == 0 { return table }
      var abbreviation = Abbreviation(
        tag: try cursor.uleb(), hasChildren: try cursor.u8() != 0, attributes: [])
      while true {
        let (name, form) = (try cursor.uleb(), try cursor.uleb())
        if name == 0 && form == 0 { break }
        let constant = form == Form.implicitConstant ? try cursor.sleb() : 0
        guard abbreviation.attributes.count < Self.maxAttributes else {
          throw malformed("abbreviation \(code) with over \(Self.maxAttributes) attributes")
        }
        abbreviation.attributes.append((name, form, constant))
      }
      table[code] = abbreviation
    }
  }

  private enum Form {
    static let implicitConstant: UInt64 = 0x21
  }

  /// Reads one attribute value; nil for the forms this reader only skips.
  private func value(_ cursor: inout ByteCursor, form: UInt64, unit: Unit, indirections: Int = 0)
    throws -> Value?
  {
    switch form {
    case 0x0b: return .constant(UInt64(try cursor.u8()))  // data1
    case 0x05: return .constant(UInt64(try cursor.le(UInt16.self)))  // data2
    case 0x06: return .constant(UInt64(try cursor.le(UInt32.self)))  // data4
    case 0x07: return .constant(try cursor.le(UInt64.self))  // data8
    case 0x0f: return .constant(try cursor.uleb())  // udata
    case 0x0d: return .constant(UInt64(bitPattern: try cursor.sleb()))  // sdata
    case 0x08: return .string(try cursor.cString())  // string
    case 0x0e, 0x1f:  // strp, line_strp
      let offset = try cursor.unsigned(size: unit.offsetSize)
      let strings = form == 0x0e ? sections.str : sections.lineStr
      guard offset < UInt64(strings.count), let string = strings.cString(at: Int(offset)) else {
        throw malformed("string offset \(offset)")
      }
      return .string(string)
    case 0x0a: return .block(try cursor.bytes(UInt64(try cursor.u8())))  // block1
    case 0x03: return .block(try cursor.bytes(UInt64(try cursor.le(UInt16.self))))  // block2
    case 0x04: return .block(try cursor.bytes(UInt64(try cursor.le(UInt32.self))))  // block4
    case 0x09, 0x18: return .block(try cursor.bytes(try cursor.uleb()))  // block, exprloc
    case 0x01: try cursor.skip(UInt64(unit.addressSize))  // addr
    case 0x0c, 0x11, 0x25, 0x29: try cursor.skip(1)  // flag, ref1, strx1, addrx1
    case 0x12, 0x26, 0x2a: try cursor.skip(2)  // ref2, strx2, addrx2
    case 0x27, 0x2b: try cursor.skip(3)  // strx3, addrx3
    case 0x13, 0x1c, 0x28, 0x2c: try cursor.skip(4)  // ref4, ref_sup4, strx4, addrx4
    case 0x14, 0x20, 0x24: try cursor.skip(8)  // ref8, ref_sig8, ref_sup8
    case 0x1e: try cursor.skip(16)  // data16
    case 0x15, 0x1a, 0x1b, 0x22, 0x23: _ = try cursor.uleb()  // ref_udata, strx, addrx, *listx
    case 0x17, 0x1d: try cursor.skip(UInt64(unit.offsetSize))  // sec_offset, strp_sup
    case 0x10:  // ref_addr: address-sized in DWARF 2, offset-sized after
      try cursor.skip(UInt64(unit.version == 2 ? unit.addressSize : unit.offsetSize))
    case 0x19: break  // flag_present
    case 0x16 where indirections == 0:  // indirect
      return try value(&cursor, form: try cursor.uleb(), unit: unit, indirections: 1)
    default:
      throw malformed("attribute form 0x\(String(form, radix: 16))")
    }
    return nil
  }
}
