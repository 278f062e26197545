/// A parsed request as handed to the server's handler.
public struct HTTPRequest: Sendable {
  /// The method, e.g. `GET`.
  public var method: String
  /// The percent-decoded path without the query, e.g. `/v1/targets/3`.
  public var path: String
  /// The percent-decoded query parameters; for a repeated name, the last value.
  public var query: [String: String]
  /// Header values by lowercased name; repeated headers joined with ", ".
  public var headers: [String: String]
  /// The body (Content-Length bytes).
  public var body: [UInt8]
  /// The connecting process.
  public var peer: PeerCredentials

  /// Creates a request, e.g. to test a handler.
  public init(
    method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
    body: [UInt8] = [], peer: PeerCredentials
  ) {
    self.method = method
    self.path = path
    self.query = query
    self.headers = headers
    self.body = body
    self.peer = peer
  }
}
