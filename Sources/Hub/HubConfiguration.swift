// Hub: resolving a model reference (a local folder or a Hugging Face repo id) to files on disk, sharing
// the cache layout of the Python `huggingface_hub` and torch hub so downloads are reused both ways.

import Foundation

/// Where to download from, with which credentials, and where the caches live. Read from the same
/// environment variables the Python tools use, so both find the same files.
public struct HubConfiguration: Sendable {
    /// `HF_ENDPOINT`, default `https://huggingface.co`.
    public var endpoint: URL
    /// `HF_TOKEN` (or `HUGGING_FACE_HUB_TOKEN`), else the token file written by `huggingface-cli login`.
    public var token: String?
    /// `HF_HUB_OFFLINE=1`: use only what is cached, never touch the network.
    public var offline: Bool
    /// The `huggingface_hub` cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public var cacheDirectory: URL
    /// torch hub's folder: `$TORCH_HOME/hub`, default `~/.cache/torch/hub`; checkpoints go to `checkpoints/` in it.
    public var torchHubDirectory: URL
    /// Seconds without data before a request is abandoned (`HF_HUB_DOWNLOAD_TIMEOUT`, default 10).
    public var readTimeout: Double
    /// How many times a download that broke off resumes from where it stopped before giving up.
    public var resumeAttempts: Int

    public init(endpoint: URL = URL(string: "https://huggingface.co")!, token: String? = nil, offline: Bool = false,
                cacheDirectory: URL, torchHubDirectory: URL, readTimeout: Double = 10, resumeAttempts: Int = 5) {
        self.endpoint = endpoint
        self.token = token
        self.offline = offline
        self.cacheDirectory = cacheDirectory
        self.torchHubDirectory = torchHubDirectory
        self.readTimeout = readTimeout
        self.resumeAttempts = resumeAttempts
    }

    /// The torch hub checkpoints folder (`<TORCH_HOME>/hub/checkpoints`), where torchvision keeps RAFT.
    public var torchCheckpointsDirectory: URL { torchHubDirectory.appendingPathComponent("checkpoints", isDirectory: true) }

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> HubConfiguration {
        func value(_ name: String) -> String? {
            guard let text = env[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
            return text
        }
        func directory(_ path: String) -> URL {
            URL(fileURLWithPath: (path as NSString).expandingTildeInPath, isDirectory: true)
        }
        let home = value("HOME") ?? NSHomeDirectory()
        let xdgCache = value("XDG_CACHE_HOME") ?? home + "/.cache"
        let hfHome = value("HF_HOME") ?? xdgCache + "/huggingface"
        let hubCache = value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE") ?? hfHome + "/hub"
        let torchHome = value("TORCH_HOME") ?? xdgCache + "/torch"
        let tokenPath = value("HF_TOKEN_PATH") ?? hfHome + "/token"
        let token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
            ?? (try? String(contentsOfFile: (tokenPath as NSString).expandingTildeInPath, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        let endpointText = (value("HF_ENDPOINT") ?? "https://huggingface.co").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let truthy: Set<String> = ["1", "on", "yes", "true"]
        return HubConfiguration(
            endpoint: URL(string: endpointText) ?? URL(string: "https://huggingface.co")!,
            token: token?.isEmpty == false ? token : nil,
            offline: truthy.contains(value("HF_HUB_OFFLINE")?.lowercased() ?? ""),
            cacheDirectory: directory(hubCache),
            torchHubDirectory: directory(torchHome + "/hub"),
            readTimeout: value("HF_HUB_DOWNLOAD_TIMEOUT").flatMap(Double.init) ?? 10)
    }
}
