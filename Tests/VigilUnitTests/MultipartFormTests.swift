import ControlHTTP
import Testing

@Suite struct MultipartFormTests {
  @Test(
    arguments: [
      ("multipart/form-data; boundary=abc", "abc"),
      ("Multipart/Form-Data;boundary=\"a b:c\"", "a b:c"),
      ("multipart/form-data; charset=utf-8; BOUNDARY=x-1", "x-1"),
      ("application/json", nil), ("multipart/mixed; boundary=abc", nil),
      ("multipart/form-data", nil),
    ] as [(String, String?)])
  func boundaryComesFromTheContentType(contentType: String, boundary: String?) {
    #expect(MultipartForm.boundary(contentType: contentType) == boundary)
  }

  @Test func partsRoundTrip() throws {
    let parts = [
      FormPart(
        name: "policy", filename: "dir/web.yaml", content: Array("a: 1\r\n--\r\n".utf8)[...]),
      FormPart(name: "policy", filename: "quo\"te\\;x.yaml", content: []),
      FormPart(name: "note", content: Array("--x\r\n\r\n".utf8)[...]),
    ]
    let boundary = MultipartForm.randomBoundary()
    #expect(boundary != MultipartForm.randomBoundary())
    let body = Self.body(parts, boundary: boundary)
    let read = try MultipartForm.parts(of: body, boundary: boundary)
    #expect(read == parts)
    #expect(
      MultipartForm.boundary(contentType: MultipartForm.contentType(boundary: boundary)) == boundary
    )
  }

  /// A body as `curl -F policy=@web.yaml` sends it: a Content-Type per part, a preamble and an
  /// epilogue are allowed.
  @Test func readsWhatCurlSends() throws {
    let body = Array(
      """
      preamble\r
      --------------------------d74496d66958873e\r
      Content-Disposition: form-data; name="policy"; filename="web.yaml"\r
      Content-Type: application/octet-stream\r
      \r
      kind: NetworkPolicy\r
      --------------------------d74496d66958873e--\r
      epilogue
      """.utf8)
    let parts = try MultipartForm.parts(
      of: body, boundary: "------------------------d74496d66958873e")
    #expect(parts.count == 1)
    #expect(parts.first?.name == "policy")
    #expect(parts.first?.filename == "web.yaml")
    #expect(
      parts.first.map { String(decoding: $0.content, as: UTF8.self) } == "kind: NetworkPolicy")
  }

  @Test(
    arguments: [
      ("no boundary here", "no boundary \"b\" in the body"),
      ("--b\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\ntext", "part 1 (p) does not end"),
      (
        "--b\r\nContent-Type: text/plain\r\n\r\ntext\r\n--b--",
        "part 1: no Content-Disposition with a name"
      ),
      (
        "--b\r\nContent-Disposition: attachment; name=\"p\"\r\n\r\n\r\n--b--",
        "part 1: Content-Disposition is not form-data"
      ),
      ("--b\r\nContent-Disposition: form-data; name=\"p\"", "part 1: headers do not end"),
      ("--bx\r\n", "part 1: no line break after the boundary"),
    ] as [(String, String)])
  func malformedBodiesAreNamed(body: String, message: String) {
    #expect(throws: MultipartForm.Malformed.self) {
      try MultipartForm.parts(of: Array(body.utf8), boundary: "b")
    }
    do {
      _ = try MultipartForm.parts(of: Array(body.utf8), boundary: "b")
    } catch {
      #expect(error.description == message)
    }
  }

  @Test func anEmptyFormHasNoParts() throws {
    #expect(try MultipartForm.parts(of: Array("--b--\r\n".utf8), boundary: "b").isEmpty)
    #expect(Self.body([], boundary: "b") == Array("--b--\r\n".utf8))
  }

  /// `parts` between their framing, as the CLI sends them.
  static func body(_ parts: [FormPart], boundary: String) -> [UInt8] {
    let framing = MultipartForm.framing(
      parts.map { (name: $0.name, filename: $0.filename) }, boundary: boundary)
    return zip(framing, parts.map(\.content) + [[]]).flatMap { $0 + $1 }
  }
}
