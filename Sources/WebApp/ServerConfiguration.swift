import Foundation

/// Settings of `stream-diffvsr serve`; every one has an environment variable and a default.
public struct ServerConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var modelID: String
    /// Uploads, previews and per-job scratch files; a job's folder is removed when it ends.
    public var temporaryFolder: String
    /// Finished videos; downloads are served from here only.
    public var outputFolder: String
    public var maxUploadBytes: Int
    /// Longest side of an input frame the server accepts (the output is 4x that).
    public var maxInputSide: Int
    public var defaultInferenceSteps: Int
    /// Required from every client when set (bearer header or the cookie the page gets from `/?token=`);
    /// a server bound to a non-loopback address refuses to start without one.
    public var authToken: String?
    /// Host names (without port) the `Host` header may name besides the loopback names and the bound
    /// address; guards against DNS rebinding. Empty with a wildcard bind: any name (the token guards).
    public var allowedHosts: [String] = []
    public var limits = ServerLimits()
    public static let inferenceStepRange = 1...50
    /// Frames narrower or shorter than this cannot be processed (the VAE needs multiples of 4).
    public static let minInputSide = 4

    public init(host: String = "127.0.0.1", port: Int = 8000, modelID: String = "Jamichsu/Stream-DiffVSR",
                temporaryFolder: String = ".stream_diffvsr_tmp", outputFolder: String = "outputs",
                maxUploadBytes: Int = 2048 << 20, maxInputSide: Int = 1920, defaultInferenceSteps: Int = 4) {
        self.host = host
        self.port = port
        self.modelID = modelID
        self.temporaryFolder = temporaryFolder
        self.outputFolder = outputFolder
        self.maxUploadBytes = maxUploadBytes
        self.maxInputSide = maxInputSide
        self.defaultInferenceSteps = defaultInferenceSteps
    }

    public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
        case invalidNumber(variable: String, value: String)
        case tokenRequired(host: String)
        case weakToken(length: Int)
        case tokenCharacters
        public var description: String {
            switch self {
            case .invalidNumber(let variable, let value):
                return "\(variable)=\(value): expected a positive whole number"
            case .tokenRequired(let host):
                return "refusing to listen on \(host) without an access token: anyone who can reach this address could use the server; set --auth-token or STREAM_DIFFVSR_AUTH_TOKEN (see docs/webapp.md), or listen on 127.0.0.1"
            case .weakToken(let length):
                return "the access token has \(length) characters; use at least 16 (for example: openssl rand -hex 16)"
            case .tokenCharacters:
                return "the access token may hold only letters, digits and - . _ ~ + / = (for example: openssl rand -hex 16)"
            }
        }
    }

    /// Loopback addresses reach this machine only; anything else (0.0.0.0, ::, a LAN address) is public.
    public static func isLoopback(_ host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return name == "localhost" || name == "::1" || name.hasPrefix("127.")
    }

    /// A public bind needs a token; a token must not be guessable.
    public func validateAccess() throws {
        if let authToken {
            guard authToken.count >= 16 else { throw ConfigurationError.weakToken(length: authToken.count) }
            // It travels in a cookie and a header: no spaces, quotes, commas or semicolons.
            let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=")
            guard authToken.unicodeScalars.allSatisfy(allowed.contains) else { throw ConfigurationError.tokenCharacters }
        } else if !ServerConfiguration.isLoopback(host) {
            throw ConfigurationError.tokenRequired(host: host)
        }
    }

    /// PORT, STREAM_DIFFVSR_MODEL_ID, STREAM_DIFFVSR_TMP_DIR, STREAM_DIFFVSR_OUTPUT_DIR,
    /// STREAM_DIFFVSR_MAX_UPLOAD_MB, STREAM_DIFFVSR_MAX_INPUT_SIDE, STREAM_DIFFVSR_AUTH_TOKEN,
    /// STREAM_DIFFVSR_ALLOWED_HOSTS (comma-separated) and the limits (STREAM_DIFFVSR_MAX_PENDING_UPLOADS,
    /// _MAX_QUEUED_JOBS, _MAX_STREAMS, _MAX_FRAMES, _UPLOAD_LIFETIME_MINUTES, _RETENTION_HOURS,
    /// _MIN_FREE_DISK_MB) over the defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        func number(_ variable: String) throws -> Int? {
            guard let text = environment[variable], !text.isEmpty else { return nil }
            guard let value = Int(text), value > 0 else { throw ConfigurationError.invalidNumber(variable: variable, value: text) }
            return value
        }
        if let port = try number("PORT") { configuration.port = port }
        if let model = environment["STREAM_DIFFVSR_MODEL_ID"], !model.isEmpty { configuration.modelID = model }
        if let folder = environment["STREAM_DIFFVSR_TMP_DIR"], !folder.isEmpty { configuration.temporaryFolder = folder }
        if let folder = environment["STREAM_DIFFVSR_OUTPUT_DIR"], !folder.isEmpty { configuration.outputFolder = folder }
        if let megabytes = try number("STREAM_DIFFVSR_MAX_UPLOAD_MB") { configuration.maxUploadBytes = megabytes << 20 }
        if let side = try number("STREAM_DIFFVSR_MAX_INPUT_SIDE") { configuration.maxInputSide = side }
        if let token = environment["STREAM_DIFFVSR_AUTH_TOKEN"], !token.isEmpty { configuration.authToken = token }
        if let hosts = environment["STREAM_DIFFVSR_ALLOWED_HOSTS"] {
            configuration.allowedHosts = hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        var limits = configuration.limits
        if let value = try number("STREAM_DIFFVSR_MAX_PENDING_UPLOADS") { limits.maxPendingUploads = value }
        if let value = try number("STREAM_DIFFVSR_MAX_QUEUED_JOBS") { limits.maxQueuedJobs = value }
        if let value = try number("STREAM_DIFFVSR_MAX_STREAMS") { limits.maxStreams = value }
        if let value = try number("STREAM_DIFFVSR_MAX_FRAMES") { limits.maxFramesPerJob = value }
        if let value = try number("STREAM_DIFFVSR_UPLOAD_LIFETIME_MINUTES") { limits.uploadLifetime = TimeInterval(value) * 60 }
        if let value = try number("STREAM_DIFFVSR_RETENTION_HOURS") { limits.resultRetention = TimeInterval(value) * 3600 }
        if let value = try number("STREAM_DIFFVSR_MIN_FREE_DISK_MB") { limits.minFreeDiskBytes = Int64(value) << 20 }
        configuration.limits = limits
        return configuration
    }
}
