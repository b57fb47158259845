import Foundation

/// The folder every front and worker mounts at the same place in its own file system (a shared volume):
/// uploads arrive in `incoming/`, a job's source and encoded chunks live in `jobs/<id>/`, results in
/// `outputs/`. The queue stores paths relative to it; they are checked before use, so a row can never
/// point outside the storage.
public struct SharedStorage: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        for folder in [incoming, outputs, (self.root as NSString).appendingPathComponent("jobs")] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    var incoming: String { (root as NSString).appendingPathComponent("incoming") }
    var outputs: String { (root as NSString).appendingPathComponent("outputs") }

    func jobFolder(_ id: String) -> String { "jobs/\(id)" }

    func chunkFolder(job id: String) -> String { "jobs/\(id)/chunks" }

    static func chunkName(_ index: Int) -> String { String(format: "chunk-%06d.mp4", index) }

    /// `relative` under the root; refuses absolute paths, `..`, and anything that leaves the root.
    func resolve(_ relative: String) throws -> String {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, !relative.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw WebAppError.invalidRequest("storage path \"\(relative)\" is not a plain relative path")
        }
        let path = URL(fileURLWithPath: (root as NSString).appendingPathComponent(relative)).standardizedFileURL.path
        guard path.hasPrefix(root + "/") else { throw WebAppError.invalidRequest("storage path \"\(relative)\" leaves the storage folder") }
        return path
    }
}
