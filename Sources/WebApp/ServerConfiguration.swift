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

    public enum ConfigurationError: Error, CustomStringConvertible {
        case invalidNumber(variable: String, value: String)
        public var description: String {
            switch self {
            case .invalidNumber(let variable, let value):
                return "\(variable)=\(value): expected a positive whole number"
            }
        }
    }

    /// PORT, STREAM_DIFFVSR_MODEL_ID, STREAM_DIFFVSR_TMP_DIR, STREAM_DIFFVSR_OUTPUT_DIR,
    /// STREAM_DIFFVSR_MAX_UPLOAD_MB and STREAM_DIFFVSR_MAX_INPUT_SIDE over the defaults.
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
        return configuration
    }
}
