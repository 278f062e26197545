/// `runtime.firstmoduledata`, found in the data by its first two words: the address of the pclntab
/// and the address of the function name table inside it. Go 1.26 stopped writing the text start
/// into the pclntab header; the moduledata still has it.
enum ModuleData {
  /// Offset of `text`: after pcHeader, six slices, findfunctab, minpc and maxpc (Go 1.18–1.27).
  static let textOffset = 8 + 6 * 24 + 3 * 8

  static func textStart(in image: ELFImage, pclntabAddress: UInt64, funcnameOffset: Int) throws
    -> UInt64?
  {
    let funcnames = pclntabAddress &+ UInt64(funcnameOffset)
    for (_, bytes) in try image.writableContents() {
      for offset in stride(from: 0, to: bytes.count - textOffset - 8, by: 8)
      where bytes.le(offset) == pclntabAddress && bytes.le(offset + 8) == funcnames {
        guard let text: UInt64 = bytes.le(offset + textOffset),
          image.segments.contains(where: {
            $0.isExecutable && text >= $0.address && text - $0.address < $0.memorySize
          })
        else { continue }
        return text
      }
    }
    return nil
  }
}
