// The `stream-diffvsr` command: `upscale` (the default), `eval`, `doctor`, `devices` and `serve`.
StreamDiffVSRCommand.main()
