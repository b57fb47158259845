import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Who may use the server. The server runs on the user's machine, so a web page the user happens to visit
/// is the first attacker to keep out: it can make the browser send requests to 127.0.0.1 (cross-origin
/// "simple" POSTs need no preflight, WebSockets have no same-origin rule) and, through DNS rebinding,
/// even read the replies. Hence, for every request:
///
/// * `Host` must name this server (a loopback name, the bound address or an allowed host): a rebinding
///   page's requests carry the attacker's host name.
/// * State-changing requests and the WebSocket upgrade must come from this server's own page: an
///   `Origin` (browsers always send it there) equal to the request's own scheme://host:port, and no
///   `Sec-Fetch-Site: cross-site/same-site`. Clients that are not browsers send no Origin and pass.
/// * POST bodies have the type each endpoint reads (JSON, or the upload's octet stream): the types a
///   cross-origin form or `fetch` may send without a preflight are refused.
/// * With a token (required when listening beyond loopback), every request but the token exchange must
///   carry it, as `Authorization: Bearer` or as the `HttpOnly; SameSite=Strict` cookie the page gets by
///   opening `/?token=<token>` once.
struct AccessPolicy: Sendable {
    static let cookieName = "stream_diffvsr_token"
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    private static let loopbackNames: Set<String> = ["localhost", "127.0.0.1", "::1"]

    /// Lower-case host names the Host header may carry; nil accepts any (a wildcard bind with a token).
    let allowedHosts: Set<String>?
    let tokenDigest: [UInt8]?

    init(configuration: ServerConfiguration) {
        let extra = Set(configuration.allowedHosts.map { AccessPolicy.bareHost($0) })
        let bound = AccessPolicy.bareHost(configuration.host)
        let wildcard = bound == "0.0.0.0" || bound == "::" || bound.isEmpty
        if wildcard && extra.isEmpty && configuration.authToken != nil {
            allowedHosts = nil
        } else {
            allowedHosts = AccessPolicy.loopbackNames.union(extra).union(wildcard ? [] : [bound])
        }
        tokenDigest = configuration.authToken.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    /// What to do with a request: go on, or answer at once (the token exchange's redirect).
    enum Decision {
        case proceed
        case respond(Response)
    }

    func decide(_ request: Request) throws -> Decision {
        try checkHost(request)
        let method = request.method
        let isUpgrade = request.headers[.upgrade]?.lowercased() == "websocket"
        if isUpgrade || ![.get, .head, .options].contains(method) {
            try checkOrigin(request)
        }
        if method == .post { try checkContentType(request) }
        guard tokenDigest != nil else { return .proceed }
        if hasValidToken(request) { return .proceed }
        // The token exchange: the page is opened once with ?token=, which becomes a cookie.
        if method == .get, request.uri.path == "/", let offered = request.uri.queryParameters.get("token"), matches(offered) {
            var headers = HTTPFields()
            headers[.location] = "/"
            headers[.setCookie] = "\(AccessPolicy.cookieName)=\(offered); Path=/; HttpOnly; SameSite=Strict"
            headers[.cacheControl] = "no-store"
            return .respond(Response(status: .seeOther, headers: headers))
        }
        throw WebAppError.unauthorized
    }

    private func checkHost(_ request: Request) throws {
        guard let allowedHosts else { return }
        guard let authority = request.head.authority else {
            throw WebAppError.forbidden("the request has no Host header")
        }
        let host = AccessPolicy.bareHost(authority)
        guard allowedHosts.contains(host) else {
            throw WebAppError.forbidden("Host '\(authority)' is not a name of this server (add it with --allowed-host)")
        }
    }

    private func checkOrigin(_ request: Request) throws {
        if let site = request.headers[AccessPolicy.secFetchSite]?.lowercased(), site == "cross-site" || site == "same-site" {
            throw WebAppError.forbidden("cross-site request (Sec-Fetch-Site: \(site))")
        }
        let authority = request.head.authority ?? ""
        for origin in request.headers[values: .origin] {
            guard let url = URL(string: origin), let scheme = url.scheme?.lowercased() else {
                throw WebAppError.forbidden("Origin '\(origin)' is not this server's page")
            }
            // A browser's Origin is its page's http(s) origin; WebSocket client libraries send ws(s)://,
            // which no page can claim, so those are programs, not pages.
            if scheme == "ws" || scheme == "wss" { continue }
            guard scheme == "http" || scheme == "https", let originHost = url.host,
                  AccessPolicy.bareHost(originHost) == AccessPolicy.bareHost(authority),
                  (url.port ?? AccessPolicy.defaultPort(scheme)) == (AccessPolicy.port(of: authority) ?? AccessPolicy.defaultPort(scheme)) else {
                throw WebAppError.forbidden("Origin '\(origin)' is not this server's page")
            }
        }
    }

    private func checkContentType(_ request: Request) throws {
        let raw = request.headers[.contentType]
        let type = raw?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if request.uri.path == "/api/uploads" {
            guard let type, type == "application/octet-stream" || type.hasPrefix("video/") else {
                throw WebAppError.unsupportedContentType(found: raw, expected: "application/octet-stream or video/*")
            }
        } else {
            guard type == "application/json" else {
                throw WebAppError.unsupportedContentType(found: raw, expected: "application/json")
            }
        }
    }

    private func hasValidToken(_ request: Request) -> Bool {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return matches(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        for cookies in request.headers[values: .cookie] {
            for pair in cookies.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == AccessPolicy.cookieName, matches(String(parts[1])) { return true }
            }
        }
        return false
    }

    /// Compares digests, so the time taken says nothing about how much of the token was right.
    private func matches(_ offered: String) -> Bool {
        guard let tokenDigest else { return false }
        return Array(SHA256.hash(data: Data(offered.utf8))) == tokenDigest
    }

    /// "Example.COM:8000" -> "example.com", "[::1]:8000" -> "::1".
    static func bareHost(_ authority: String) -> String {
        let lowered = authority.lowercased().trimmingCharacters(in: .whitespaces)
        if lowered.hasPrefix("[") {
            return lowered.dropFirst().split(separator: "]", maxSplits: 1).first.map(String.init) ?? ""
        }
        if lowered.filter({ $0 == ":" }).count > 1 { return lowered }   // a bare IPv6 address
        return lowered.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }

    static func port(of authority: String) -> Int? {
        guard let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") else { return nil }
        if !authority.hasPrefix("["), authority.filter({ $0 == ":" }).count > 1 { return nil }
        return Int(authority[authority.index(after: colon)...])
    }

    static func defaultPort(_ scheme: String?) -> Int { scheme?.lowercased() == "https" ? 443 : 80 }
}

/// Applies `AccessPolicy` before any route (and before the WebSocket upgrade).
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch try policy.decide(request) {
        case .proceed: return try await next(request, context)
        case .respond(let response): return response
        }
    }
}
