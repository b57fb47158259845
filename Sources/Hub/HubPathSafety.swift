import Foundation

/// Everything the hub server sends that ends up in a path or decides where a credential goes is checked
/// here first: a hostile or compromised endpoint must not be able to write, link or delete outside the
/// cache, nor receive the token on behalf of another origin.
enum HubPathSafety {
    /// A repo file name as `huggingface_hub` accepts it: relative, '/'-separated, no empty, '.' or '..'
    /// component, no backslash or NUL (which other tools would read as separators or terminators).
    static func validate(fileName: String) throws {
        let components = fileName.split(separator: "/", omittingEmptySubsequences: false)
        guard !fileName.isEmpty, !fileName.hasPrefix("/"), !fileName.contains("\\"), !fileName.contains("\0"),
              components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw HubError.unsafeServerReply(field: "rfilename", value: fileName, expected: "a relative path without empty, '.' or '..' components")
        }
    }

    /// A commit is 40 lowercase hex digits, as git writes it.
    static func validate(commit: String) throws {
        guard HubCacheRepo.isCommitHash(commit) else {
            throw HubError.unsafeServerReply(field: "sha", value: commit, expected: "a 40-digit lowercase hex commit hash")
        }
    }

    /// A blob name: letters, digits, '-', '_' and '.', not starting with '.' (a sha256, a git sha1 or a CDN tag).
    static func validate(etag: String) throws {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        guard !etag.isEmpty, etag.count <= 256, !etag.hasPrefix("."), etag.unicodeScalars.allSatisfy(allowed.contains) else {
            throw HubError.unsafeServerReply(field: "ETag", value: etag, expected: "letters, digits, '-', '_' or '.'")
        }
    }

    /// `child` (made from validated parts) must lie strictly inside `root`, after '..' and symlinks in the
    /// folders above it are resolved; the last component itself is not followed (it may be the link).
    static func requireInside(_ child: URL, root: URL) throws {
        let resolvedRoot = root.standardizedFileURL.resolvingSymlinksInPath().path
        let parent = child.deletingLastPathComponent().standardizedFileURL.resolvingSymlinksInPath().path
        let resolved = (parent as NSString).appendingPathComponent(child.lastPathComponent)
        guard child.lastPathComponent != "..", child.lastPathComponent != ".",
              resolved.hasPrefix(resolvedRoot.hasSuffix("/") ? resolvedRoot : resolvedRoot + "/") else {
            throw HubError.unsafeServerReply(field: "path", value: child.path, expected: "a path inside \(root.path)")
        }
    }

    /// The token goes only where it was meant for: same scheme, host and port (a redirect to plain HTTP,
    /// another host or another port of the same host drops it, as browsers drop credentials cross-origin).
    static func sameOrigin(_ first: URL, _ second: URL) -> Bool {
        guard let scheme = first.scheme?.lowercased(), scheme == second.scheme?.lowercased(),
              let host = first.host?.lowercased(), host == second.host?.lowercased() else { return false }
        return effectivePort(first) == effectivePort(second)
    }

    private static func effectivePort(_ url: URL) -> Int? {
        if let port = url.port { return port }
        switch url.scheme?.lowercased() {
        case "https": return 443
        case "http": return 80
        default: return nil
        }
    }
}
