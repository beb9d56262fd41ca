#!/usr/bin/python3
"""A WHIP publisher built on GStreamer's webrtcbin (not on werift or libwebrtc), for interop tests.

Publishes a solid colour (VP8 or H.264) and a sine tone (Opus) to a WHIP endpoint, with the
bundle policy asked for (max-bundle offers audio as a bundle-only section, RFC 8843), gathering
on the interfaces of the network namespace it runs in; no STUN or TURN server, libnice's UPnP off.

Prints one JSON object per line on stdout: {"event": "offer" | "answer" | "ice" | "connection" |
"error" | "done", ...}. Stops after --seconds, or on SIGTERM, and DELETEs the WHIP session.
"""
import argparse
import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="the WHIP endpoint")
    ap.add_argument("--token", required=True)
    ap.add_argument("--codec", choices=["vp8", "h264"], default="vp8")
    ap.add_argument("--bundle", choices=["max-bundle", "max-compat", "balanced"], default="max-bundle")
    ap.add_argument("--color", default="ff0000", help="RRGGBB")
    ap.add_argument("--freq", type=float, default=440.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    args = ap.parse_args()

    Gst.init(None)
    argb = 0xFF000000 | int(args.color, 16)
    if args.codec == "vp8":
        venc = "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=30 target-bitrate=400000 threads=1 ! rtpvp8pay pt=96"
        vcaps = "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000"
    else:
        venc = ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=400 threads=1 "
                "! video/x-h264,profile=constrained-baseline ! rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency")
        vcaps = "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000"
    desc = (
        f"webrtcbin name=webrtc bundle-policy={args.bundle} "
        f"videotestsrc is-live=true pattern=solid-color foreground-color={argb} "
        f"! video/x-raw,width={args.width},height={args.height},framerate=15/1 ! videoconvert ! video/x-raw,format=I420 "
        f"! {venc} ! {vcaps} ! webrtc. "
        f"audiotestsrc is-live=true wave=sine freq={args.freq} volume=0.5 ! audioconvert ! audioresample "
        f"! audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 ! rtpopuspay pt=111 "
        f"! application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! webrtc. "
    )
    pipeline = Gst.parse_launch(desc)
    webrtc = pipeline.get_by_name("webrtc")
    agent = webrtc.get_property("ice-agent")
    nice = agent.get_property("agent") if agent is not None else None
    if nice is not None:
        nice.set_property("upnp", False)
    loop = GLib.MainLoop()
    state = {"location": None, "failed": False}

    def finish(*_a):
        loop.quit()
        return False

    def post_offer(offer_sdp):
        req = urllib.request.Request(args.url, data=offer_sdp.encode(), method="POST", headers={
            "Content-Type": "application/sdp", "Authorization": f"Bearer {args.token}",
        })
        try:
            with urllib.request.urlopen(req, timeout=20) as res:
                answer = res.read().decode()
                loc = res.headers.get("Location")
                state["location"] = urllib.parse.urljoin(args.url, loc) if loc else None
                emit("answer", status=res.status, sdp=answer)
        except urllib.error.HTTPError as e:
            emit("error", where="post", status=e.code, body=e.read().decode(errors="replace"))
            state["failed"] = True
            GLib.idle_add(finish)
            return
        except Exception as e:  # noqa: BLE001
            emit("error", where="post", message=str(e))
            state["failed"] = True
            GLib.idle_add(finish)
            return
        _, msg = GstSdp.SDPMessage.new_from_text(answer)
        desc = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        webrtc.emit("set-remote-description", desc, Gst.Promise.new())

    def on_gathering(element, _pspec):
        if element.get_property("ice-gathering-state") != GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            return
        if state.get("posted"):
            return
        state["posted"] = True
        sdp = element.get_property("local-description").sdp.as_text()
        emit("offer", sdp=sdp)
        GLib.idle_add(lambda: (post_offer(sdp), False)[1])

    def on_offer_created(promise, _data):
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_negotiation_needed(element):
        if state.get("negotiating"):
            return
        state["negotiating"] = True
        for i in range(64):
            t = element.emit("get-transceiver", i)
            if t is None:
                break
            t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer_created, None))

    webrtc.connect("on-negotiation-needed", on_negotiation_needed)
    webrtc.connect("notify::ice-gathering-state", on_gathering)
    webrtc.connect("notify::ice-connection-state", lambda e, _p: emit("ice", state=e.get_property("ice-connection-state").value_nick))
    webrtc.connect("notify::connection-state", lambda e, _p: emit("connection", state=e.get_property("connection-state").value_nick))

    bus = pipeline.get_bus()
    bus.add_signal_watch()

    def on_message(_bus, message):
        if message.type == Gst.MessageType.ERROR:
            err, dbg = message.parse_error()
            emit("error", where="pipeline", message=str(err), debug=dbg)
            state["failed"] = True
            loop.quit()

    bus.connect("message", on_message)
    signal.signal(signal.SIGTERM, lambda *_: GLib.idle_add(finish))
    GLib.timeout_add(int(args.seconds * 1000), finish)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if state["location"]:
        try:
            req = urllib.request.Request(state["location"], method="DELETE", headers={"Authorization": f"Bearer {args.token}"})
            urllib.request.urlopen(req, timeout=5).read()
        except Exception as e:  # noqa: BLE001
            emit("error", where="delete", message=str(e))
    emit("done", failed=state["failed"])
    sys.exit(1 if state["failed"] else 0)


if __name__ == "__main__":
    main()
