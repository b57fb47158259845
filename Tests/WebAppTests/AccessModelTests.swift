import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import XCTest
@testable import WebApp

/// Issue 15 item 8: a web page the user visits must not be able to drive the local server (cross-origin
/// POSTs and WebSockets, DNS rebinding), and a server on a public address needs its token.
final class AccessModelTests: WebAppTestCase {
    struct ErrorReply: Decodable { let error: String }

    func assertRefused(_ response: TestResponse, _ status: HTTPResponse.Status, containing text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, status, String(buffer: response.body), file: file, line: line)
        let reply = try json(ErrorReply.self, response, file: file, line: line)
        XCTAssertTrue(reply.error.contains(text), "\"\(reply.error)\" does not mention \"\(text)\"", file: file, line: line)
    }

    func request(_ method: HTTPRequest.Method, _ path: String, authority: String = "127.0.0.1:8000", headers: HTTPFields = [:]) -> Request {
        Request(head: HTTPRequest(method: method, scheme: "http", authority: authority, path: path, headerFields: headers),
                body: .init(buffer: ByteBuffer()))
    }

    func testCrossOriginRequestsAndSimpleContentTypesAreRefused() async throws {
        let clip = try makeClipWithAudio()
        try await withServer { [self] client in
            // What a cross-origin page can send without a preflight: a form-type body, with its Origin.
            let evil: HTTPFields = [.origin: "http://evil.example", .contentType: "application/json"]
            try assertRefused(try await client.execute(uri: "/api/jobs", method: .post, headers: evil, body: ByteBuffer(string: "{}")),
                              .forbidden, containing: "Origin 'http://evil.example' is not this server's page")
            let crossSite: HTTPFields = [.init("Sec-Fetch-Site")!: "cross-site", .contentType: "application/octet-stream"]
            try assertRefused(try await client.execute(uri: "/api/uploads?name=a.mp4", method: .post, headers: crossSite, body: ByteBuffer(string: "x")),
                              .forbidden, containing: "cross-site")
            try assertRefused(try await client.execute(uri: "/api/uploads/x", method: .delete, headers: [.origin: "http://localhost:9999"]),
                              .forbidden, containing: "Origin")
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                try assertRefused(try await client.execute(uri: "/api/jobs", method: .post, headers: [.contentType: type], body: ByteBuffer(string: "{}")),
                                  .unsupportedMediaType, containing: "expected application/json")
                try assertRefused(try await client.execute(uri: "/api/uploads?name=a.mp4", method: .post, headers: [.contentType: type], body: ByteBuffer(string: "x")),
                                  .unsupportedMediaType, containing: "application/octet-stream or video/*")
            }
            try assertRefused(try await client.execute(uri: "/api/jobs/x/cancel", method: .post), .unsupportedMediaType, containing: "missing")
            XCTAssertEqual(contents(of: temporaryFolder), [], "a refused upload left files")
            // The page's own requests (same Origin as the Host the client used) pass; reading needs no Origin.
            let same: HTTPFields = [.origin: "http://localhost", .contentType: "video/mp4"]
            let bytes = try Data(contentsOf: URL(fileURLWithPath: clip))
            let accepted = try await client.execute(uri: "/api/uploads?name=clip.mp4", method: .post, headers: same, body: ByteBuffer(bytes: bytes))
            XCTAssertEqual(accepted.status, .created, String(buffer: accepted.body))
            do {
                let reply = try await client.execute(uri: "/api/info", method: .get, headers: [.origin: "http://evil.example"])
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
        }
    }

    func testTheWebSocketUpgradeChecksTheOrigin() async throws {
        try await withServer { client in
            let port = try XCTUnwrap(client.port)
            let logger = Logger(label: "access-test")
            func connect(origin: String) async throws -> Bool {
                let opened = SharedValue(false)
                try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/stream",
                                                  configuration: .init(additionalHeaders: [.origin: origin]), logger: logger) { _, outbound, _ in
                    opened.set(true)
                    try await outbound.close(.normalClosure, reason: nil)
                }
                return opened.value
            }
            let foreign = (try? await connect(origin: "http://evil.example")) ?? false
            XCTAssertFalse(foreign, "a page of another origin opened a stream")
            let sameOrigin = try await connect(origin: "http://127.0.0.1:\(port)")
            XCTAssertTrue(sameOrigin)
        }
    }

    func testTheUpgradeRequestItselfIsChecked() throws {
        let policy = AccessPolicy(configuration: configuration())
        let upgrade: HTTPFields = [.upgrade: "websocket", .connection: "Upgrade", .secWebSocketVersion: "13", .origin: "http://evil.example"]
        XCTAssertThrowsError(try policy.decide(request(.get, "/api/stream", headers: upgrade))) {
            XCTAssertEqual($0 as? WebAppError, .forbidden("Origin 'http://evil.example' is not this server's page"))
        }
        var fromThePage = upgrade
        fromThePage[.origin] = "http://127.0.0.1:8000"
        XCTAssertNoThrow(try policy.decide(request(.get, "/api/stream", headers: fromThePage)))
        // WebSocket libraries send ws:// origins, which no web page can: a program, let through.
        fromThePage[.origin] = "ws://127.0.0.1"
        XCTAssertNoThrow(try policy.decide(request(.get, "/api/stream", headers: fromThePage)))
        for origin in ["null", "file://", "http://127.0.0.1:8001", "http://localhost.evil.example:8000"] {
            fromThePage[.origin] = origin
            XCTAssertThrowsError(try policy.decide(request(.get, "/api/stream", headers: fromThePage)), origin)
        }
    }

    func testTheHostHeaderMustNameThisServer() throws {
        var configuration = configuration()
        let policy = AccessPolicy(configuration: configuration)
        XCTAssertThrowsError(try policy.decide(request(.get, "/api/info", authority: "rebound.evil.example:8000"))) {
            XCTAssertTrue("\($0)".contains("Host 'rebound.evil.example:8000' is not a name of this server"), "\($0)")
        }
        for name in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"] {
            XCTAssertNoThrow(try policy.decide(request(.get, "/api/info", authority: name)), name)
        }
        configuration.allowedHosts = ["studio.lan"]
        XCTAssertNoThrow(try AccessPolicy(configuration: configuration).decide(request(.get, "/", authority: "studio.lan:8000")))
        // A wildcard bind with a token and no allowed names accepts any Host: the token is what guards it.
        configuration.host = "0.0.0.0"
        configuration.allowedHosts = []
        configuration.authToken = String(repeating: "t", count: 20)
        XCTAssertThrowsError(try AccessPolicy(configuration: configuration).decide(request(.get, "/api/info", authority: "10.0.0.5:8000"))) {
            XCTAssertEqual($0 as? WebAppError, .unauthorized)
        }
    }

    func testAPublicAddressNeedsAToken() throws {
        var configuration = configuration()
        configuration.host = "0.0.0.0"
        XCTAssertThrowsError(try WebServer(configuration: configuration, provider: NearestProvider(), tools: tools)) { error in
            XCTAssertEqual(error as? ServerConfiguration.ConfigurationError, .tokenRequired(host: "0.0.0.0"))
            XCTAssertTrue("\(error)".contains("--auth-token"), "\(error)")
        }
        configuration.authToken = "short"
        XCTAssertThrowsError(try configuration.validateAccess()) { XCTAssertEqual($0 as? ServerConfiguration.ConfigurationError, .weakToken(length: 5)) }
        configuration.authToken = "0123456789abcdef"
        XCTAssertNoThrow(try configuration.validateAccess())
        XCTAssertTrue(ServerConfiguration.isLoopback("127.0.0.1") && ServerConfiguration.isLoopback("::1") && ServerConfiguration.isLoopback("localhost"))
        XCTAssertFalse(ServerConfiguration.isLoopback("192.168.1.2") || ServerConfiguration.isLoopback("0.0.0.0") || ServerConfiguration.isLoopback("::"))
    }

    func testWithATokenEveryRequestMustCarryIt() async throws {
        let token = "s3cret-token-0123456789"
        var configuration = configuration()
        configuration.authToken = token
        try await withServer(configuration) { [self] client in
            try assertRefused(try await client.execute(uri: "/api/info", method: .get), .unauthorized, containing: "access token")
            try assertRefused(try await client.execute(uri: "/api/info", method: .get, headers: [.authorization: "Bearer wrong"]),
                              .unauthorized, containing: "access token")
            try assertRefused(try await client.execute(uri: "/", method: .get), .unauthorized, containing: "/?token=")
            do {
                let reply = try await client.execute(uri: "/api/info", method: .get, headers: [.authorization: "Bearer \(token)"])
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
            // The page is opened once with the token in the address and gets it as a cookie.
            let exchange = try await client.execute(uri: "/?token=\(token)", method: .get)
            XCTAssertEqual(exchange.status, .seeOther)
            XCTAssertEqual(exchange.headers[.location], "/")
            let cookie = try XCTUnwrap(exchange.headers[.setCookie])
            XCTAssertTrue(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), cookie)
            let pair = String(cookie.split(separator: ";")[0])
            do {
                let reply = try await client.execute(uri: "/", method: .get, headers: [.cookie: pair])
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
            do {
                let reply = try await client.execute(uri: "/api/info", method: .get, headers: [.cookie: "other=1; " + pair])
                XCTAssertEqual(reply.status, .ok, String(buffer: reply.body))
            }
            try assertRefused(try await client.execute(uri: "/?token=nope", method: .get), .unauthorized, containing: "access token")
        }
    }
}

/// A value set from inside a WebSocket handler.
final class SharedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
}
