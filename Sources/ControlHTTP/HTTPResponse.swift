/// What the server's handler answers: a whole body, or a stream of chunks.
public enum HTTPResponse: Sendable {
  /// A body sent with `Content-Length`; an empty `contentType` sends no `Content-Type`.
  case full(status: Int, contentType: String, body: [UInt8])
  /// A body produced piece by piece with chunked transfer encoding. `producer` runs on the
  /// connection's thread and should return once a write returns false.
  case stream(status: Int, contentType: String, producer: @Sendable (ChunkWriter) -> Void)

  /// A response with no body, e.g. 204.
  public static func empty(status: Int) -> HTTPResponse {
    .full(status: status, contentType: "", body: [])
  }
}
