import Foundation

/// A Stream-DiffVSR model on disk in the diffusers layout (`unet/`, `controlnet/`, `vae/`, `scheduler/`,
/// `text_encoder/`, `tokenizer/`), with optional per-component folder overrides (the original CLI's
/// `--unet_pretrained_weight` and friends).
public struct ModelRepository: Sendable {
    public enum Component: String, CaseIterable, Sendable {
        case unet, controlNet = "controlnet", autoencoder = "vae", scheduler, textEncoder = "text_encoder", tokenizer

        var configFile: String { self == .scheduler ? "scheduler_config.json" : "config.json" }
        /// Weight file names in order of preference: safetensors first, then the PyTorch pickle.
        var weightFiles: [String] {
            self == .textEncoder
                ? ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
                : ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                   "diffusion_pytorch_model.bin", "diffusion_pytorch_model.bin.index.json"]
        }
    }

    public let root: URL
    public var overrides: [Component: URL]

    public init(root: URL, overrides: [Component: URL] = [:]) {
        self.root = root
        self.overrides = overrides
    }

    public func directory(of component: Component) -> URL {
        overrides[component] ?? root.appendingPathComponent(component.rawValue)
    }

    public func config(of component: Component) throws -> URL {
        let url = directory(of: component).appendingPathComponent(component.configFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PipelineError.missingComponent(directory: root.path, component: component.rawValue,
                                                 expected: url.path)
        }
        return url
    }

    /// The component's weight file, preferring safetensors (fp32) and falling back to the `.bin` pickle.
    public func weights(of component: Component) throws -> URL {
        let folder = directory(of: component)
        for name in component.weightFiles {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw PipelineError.missingComponent(directory: root.path, component: component.rawValue,
                                             expected: "one of \(component.weightFiles.joined(separator: ", ")) in \(folder.path)")
    }
}
