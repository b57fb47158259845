import Foundation
import HTTPTypes
import HummingbirdTesting
import Media
import NIOCore
import XCTest
@testable import WebApp

/// The whole page flow over HTTP: upload, job, progress events, download, cancellation, the queue.
final class UpscaleJobTests: WebAppTestCase {
    func testUploadJobProgressAndDownload() async throws {
        let clip = try makeClipWithAudio()
        let provider = NearestProvider(secondsPerFrame: 0.05)
        try await withServer(provider: provider) { [self] client in
            let page = try await client.execute(uri: "/", method: .get)
            XCTAssertEqual(page.status, .ok)
            let html = String(buffer: page.body)
            XCTAssertTrue(html.contains("<video id=\"previewVideo\""))
            // Offline: nothing is fetched from another host.
            XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("//cdn"), "the page references another host")

            let uploadResponse = try await upload(client, path: clip, name: "holiday clip.mp4")
            XCTAssertEqual(uploadResponse.status, .created, String(buffer: uploadResponse.body))
            struct Reply: Decodable { let id: String; let name: String; let info: UploadedVideoInfo; let previewURL: String }
            let reply = try json(Reply.self, uploadResponse)
            XCTAssertEqual(reply.name, "holiday clip.mp4")
            XCTAssertEqual(reply.info, UploadedVideoInfo(width: 32, height: 24, frameRate: 12, frameCount: 10, hasAudio: true,
                                                         videoCodec: "h264", browserPlayable: true))
            let preview = try await client.execute(uri: reply.previewURL, method: .get, headers: [.range: "bytes=0-99"])
            XCTAssertEqual(preview.status, .partialContent)
            XCTAssertEqual(preview.body.readableBytes, 100)
            XCTAssertEqual(preview.headers[.contentType], "video/mp4")

            let queued = try await startJob(client, upload: reply.id, steps: 7)
            XCTAssertEqual(queued.inferenceSteps, 7)
            let events = try await events(client, job: queued.id)
            let final = try XCTUnwrap(events.last)
            XCTAssertEqual(final.state, .finished, final.message ?? "")
            XCTAssertEqual(final.framesDone, 10)
            XCTAssertEqual(final.frameCount, 10)
            XCTAssertEqual(final.outputWidth, 128)
            XCTAssertEqual(final.outputHeight, 96)
            XCTAssertEqual(provider.stepsRequested, [7])
            // Frames arrive in order, each with its timing (the stream connects long before the 0.5 s job ends).
            let counts = events.map(\.framesDone)
            XCTAssertEqual(counts, counts.sorted())
            let running = events.filter { $0.state == .running && $0.framesDone > 0 }
            XCTAssertGreaterThanOrEqual(running.count, 5, "expected an event per frame, got \(counts)")
            for status in running {
                XCTAssertGreaterThanOrEqual(try XCTUnwrap(status.secondsPerFrame), 0.05)
                XCTAssertEqual(try XCTUnwrap(status.etaSeconds), Double(10 - status.framesDone) * status.secondsPerFrame!, accuracy: 1e-9)
            }

            let resultURL = try XCTUnwrap(final.resultURL)
            let download = try await client.execute(uri: resultURL + "?download=1", method: .get)
            XCTAssertEqual(download.status, .ok)
            XCTAssertEqual(download.headers[.contentDisposition], "attachment; filename=\"holiday_clip_x4.mp4\"")
            let saved = scratch.appendingPathComponent("downloaded.mp4")
            try Data(buffer: download.body).write(to: saved)
            let streams = try probeStreams(saved.path)
            let video = try XCTUnwrap(streams.first { $0.codec_type == "video" })
            XCTAssertEqual(video.width, 128)
            XCTAssertEqual(video.height, 96)
            XCTAssertEqual(video.r_frame_rate, "12/1")
            XCTAssertEqual(video.nb_read_frames, "10")
            XCTAssertTrue(streams.contains { $0.codec_type == "audio" }, "the source audio was not muxed back")

            // The result lives in the output folder; the job's scratch files are gone.
            XCTAssertEqual(contents(of: outputFolder).count, 1)
            XCTAssertEqual(contents(of: temporaryFolder), [])
        }
    }

    func testPreviewIsConvertedWhenTheBrowserCannotPlayTheSource() async throws {
        let clip = try makeClipWithAudio("clip.avi", codec: ["-c:v", "mpeg4"])
        try await withServer { [self] client in
            let response = try await upload(client, path: clip, name: "old.avi")
            XCTAssertEqual(response.status, .created, String(buffer: response.body))
            struct Reply: Decodable { let info: UploadedVideoInfo; let previewURL: String }
            let reply = try json(Reply.self, response)
            XCTAssertFalse(reply.info.browserPlayable)
            let preview = try await client.execute(uri: reply.previewURL, method: .get)
            let saved = scratch.appendingPathComponent("preview.mp4")
            try Data(buffer: preview.body).write(to: saved)
            let streams = try probeStreams(saved.path)
            XCTAssertEqual(streams.first { $0.codec_type == "video" }?.nb_read_frames, "10")
            let details = try ToolProcess.run(tools.ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                              "stream=codec_name,pix_fmt", "-of", "csv=p=0", saved.path])
            XCTAssertEqual(String(decoding: details.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "h264,yuv420p")

            // The job decodes the source itself: every frame once, none duplicated to fill a timestamp gap.
            struct Upload: Decodable { let id: String }
            let job = try await startJob(client, upload: try json(Upload.self, response).id)
            let jobEvents = try await events(client, job: job.id)
            let final = try XCTUnwrap(jobEvents.last)
            XCTAssertEqual(final.state, .finished, final.message ?? "")
            XCTAssertEqual(final.framesDone, 10, "the decoder returned a different number of frames than the AVI holds")
            let result = scratch.appendingPathComponent("result.mp4")
            let download = try await client.execute(uri: try XCTUnwrap(final.resultURL), method: .get)
            try Data(buffer: download.body).write(to: result)
            XCTAssertEqual(try probeStreams(result.path).first { $0.codec_type == "video" }?.nb_read_frames, "10")
        }
    }

    func testCancellingRunningAndQueuedJobsRemovesTheirFiles() async throws {
        let clip = try makeClipWithAudio()
        try await withServer(provider: NearestProvider(secondsPerFrame: 0.25)) { [self] client in
            struct Reply: Decodable { let id: String }
            let first = try json(Reply.self, try await upload(client, path: clip, name: "a.mp4"))
            let second = try json(Reply.self, try await upload(client, path: clip, name: "b.mp4"))
            let running = try await startJob(client, upload: first.id)
            XCTAssertEqual(running.inferenceSteps, 3, "the server default")
            let waiting = try await startJob(client, upload: second.id)
            let afterOneFrame = try await poll(client, job: running.id) { $0.framesDone >= 1 }
            XCTAssertEqual(afterOneFrame.state, .running)
            let queued = try json(JobStatus.self, try await client.execute(uri: "/api/jobs/\(waiting.id)", method: .get))
            XCTAssertEqual(queued.state, .queued)
            XCTAssertEqual(queued.queuePosition, 1)

            // The live preview: the latest LR frame and its x4 output.
            let input = try await client.execute(uri: "/api/jobs/\(running.id)/frames/input", method: .get)
            let output = try await client.execute(uri: "/api/jobs/\(running.id)/frames/output", method: .get)
            XCTAssertEqual(input.headers[.contentType], "image/png")
            let lowResolution = try PNGCodec.decode(Array(buffer: input.body), path: "input")
            let upscaled = try PNGCodec.decode(Array(buffer: output.body), path: "output")
            XCTAssertEqual(lowResolution.width, 32)
            XCTAssertEqual(upscaled.width, 128)
            if input.headers[HTTPField.Name("X-Frame-Index")!] == output.headers[HTTPField.Name("X-Frame-Index")!] {
                XCTAssertEqual(upscaled, NearestUpscaler.nearest(lowResolution))
            }

            let cancelQueued = try await client.execute(uri: "/api/jobs/\(waiting.id)/cancel", method: .post, headers: jsonContent, body: ByteBuffer(string: "{}"))
            XCTAssertEqual(cancelQueued.status, .accepted)
            XCTAssertEqual(try json(JobStatus.self, cancelQueued).state, .cancelled)
            let cancelRunning = try await client.execute(uri: "/api/jobs/\(running.id)/cancel", method: .post, headers: jsonContent, body: ByteBuffer(string: "{}"))
            XCTAssertEqual(cancelRunning.status, .accepted)
            let finalEvents = try await events(client, job: running.id)
            let final = try XCTUnwrap(finalEvents.last)
            XCTAssertEqual(final.state, .cancelled)
            XCTAssertLessThan(final.framesDone, 10)
            XCTAssertNil(final.resultURL)
            let result = try await client.execute(uri: "/api/jobs/\(running.id)/result", method: .get)
            XCTAssertEqual(result.status, .conflict)

            XCTAssertEqual(contents(of: outputFolder), [], "a cancelled job left output behind")
            XCTAssertEqual(contents(of: temporaryFolder), [], "a cancelled job left scratch files behind")
        }
    }

    func testAJobWaitsForTheOneWorkerAndSeesItsPosition() async throws {
        let clip = try makeClipWithAudio()
        try await withServer(provider: NearestProvider(secondsPerFrame: 0.05)) { [self] client in
            struct Reply: Decodable { let id: String }
            var jobs: [JobStatus] = []
            for name in ["1.mp4", "2.mp4", "3.mp4"] {
                let upload = try json(Reply.self, try await upload(client, path: clip, name: name))
                jobs.append(try await startJob(client, upload: upload.id))
            }
            let third = try await events(client, job: jobs[2].id)
            let positions = third.compactMap(\.queuePosition)
            XCTAssertEqual(positions, positions.sorted(by: >), "the queue position only goes down")
            XCTAssertEqual(third.last?.state, .finished)
            for job in jobs {
                let status = try json(JobStatus.self, try await client.execute(uri: "/api/jobs/\(job.id)", method: .get))
                XCTAssertEqual(status.state, .finished)
            }
            XCTAssertEqual(contents(of: outputFolder).count, 3)
        }
    }
}
