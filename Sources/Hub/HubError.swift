import Foundation

/// What went wrong, phrased so the user knows what to do next.
public enum HubError: Error, CustomStringConvertible, Equatable {
    case invalidRepoID(String)
    case offlineNotCached(repoID: String, revision: String, missing: [String])
    case offlineURLNotCached(url: String, expectedPath: String)
    case unauthorized(repoID: String, status: Int)
    case notFound(what: String)
    case httpStatus(url: String, status: Int)
    case network(url: String, reason: String)
    case checksumMismatch(file: String, expected: String, actual: String)
    case diskFull(path: String)
    case fileSystem(path: String, reason: String)
    case incompleteModel(repoID: String, reason: String)
    /// The server sent a file name, commit or tag that would escape the cache or is not what it claims.
    case unsafeServerReply(field: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .invalidRepoID(id):
            return "'\(id)' is neither an existing folder nor a Hugging Face repo id of the form org/name"
        case let .offlineNotCached(repoID, revision, missing):
            let list = missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? ", ..." : "")
            return "offline (HF_HUB_OFFLINE=1) and \(repoID)@\(revision) is not fully in the cache (missing \(list)); run once without HF_HUB_OFFLINE, or `huggingface-cli download \(repoID)`"
        case let .offlineURLNotCached(url, expectedPath):
            return "offline (HF_HUB_OFFLINE=1) and \(expectedPath) does not exist; download \(url) to that path or run once online"
        case let .unauthorized(repoID, status):
            return "\(repoID): access denied (HTTP \(status)); set HF_TOKEN to a token that can read this repo (and accept its terms on the website if it is gated)"
        case let .notFound(what):
            return "\(what) not found (HTTP 404); check the repo id, revision and file name"
        case let .httpStatus(url, status):
            return "\(url): the server answered HTTP \(status); try again later"
        case let .network(url, reason):
            return "\(url): \(reason); check the connection (or HF_ENDPOINT), or set HF_HUB_OFFLINE=1 to use only the cache"
        case let .checksumMismatch(file, expected, actual):
            return "\(file): downloaded data has checksum \(actual), expected \(expected); the partial file was deleted, run again to re-download"
        case let .diskFull(path):
            return "\(path): no space left on the device; free some space (or point HF_HUB_CACHE / TORCH_HOME elsewhere) and run again, the download resumes"
        case let .fileSystem(path, reason):
            return "\(path): \(reason)"
        case let .incompleteModel(repoID, reason):
            return "\(repoID): \(reason)"
        case let .unsafeServerReply(field, value, expected):
            let shown = value.count > 120 ? String(value.prefix(120)) + "..." : value
            return "the hub sent \(field) '\(shown.debugDescription.dropFirst().dropLast())', expected \(expected); refusing it (check HF_ENDPOINT)"
        }
    }
}
