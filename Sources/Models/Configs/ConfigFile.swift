// Reading the JSON config files of a diffusers / transformers model folder.

import Foundation

/// Why a config file cannot be used: the file and what was expected against what was found.
public struct ConfigFileError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String

    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}

/// Reads a config.json, turning a decoding failure into one line naming the file and the key.
public func decodeConfigFile<Config: Decodable>(_ type: Config.Type, from url: URL) throws -> Config {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw ConfigFileError(file: url.path, problem: "cannot read the config (\(error.localizedDescription))")
    }
    do {
        return try JSONDecoder().decode(Config.self, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
        throw ConfigFileError(file: url.path, problem: "missing key \"\(key.stringValue)\"")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context) {
        let path = context.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigFileError(file: url.path, problem: "bad value for \"\(path)\": \(context.debugDescription)")
    } catch {
        throw ConfigFileError(file: url.path, problem: "not a valid JSON config (\(error))")
    }
}

/// A config whose keys may decode fine yet name a setting this port does not implement.
public protocol CheckedConfigFile: Decodable {
    /// The first setting this port does not implement, if any.
    var unsupportedFeature: String? { get }
}

extension CheckedConfigFile {
    /// Decodes and checks a config file; every error names the file.
    public static func load(from url: URL) throws -> Self {
        let config = try decodeConfigFile(Self.self, from: url)
        if let problem = config.unsupportedFeature { throw ConfigFileError(file: url.path, problem: problem) }
        return config
    }
}
