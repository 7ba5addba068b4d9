"""The ComfyUI workflow: every node and link a Z-Image-Turbo graph needs, in both formats."""

from __future__ import annotations

import json

import pytest

REQUIRED = {
    "UNETLoader",
    "CLIPLoader",
    "VAELoader",
    "LoraLoaderModelOnly",
    "ModelSamplingAuraFlow",
    "CLIPTextEncode",
    "ConditioningZeroOut",
    "EmptySD3LatentImage",
    "KSampler",
    "VAEDecode",
    "SaveImage",
}


def check_ui_graph(wf: dict) -> dict[int, dict]:
    """What ComfyUI's front end needs to load a graph: unique ids, every link listed on both
    of its ends with matching types, every typed input linked, counters past the largest id."""
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert len(nodes) == len(wf["nodes"])
    links = {link[0]: link for link in wf["links"]}
    assert wf["last_node_id"] >= max(nodes) and wf["last_link_id"] >= max(links)
    for link_id, src, src_slot, dst, dst_slot, type_ in wf["links"]:
        assert link_id in nodes[src]["outputs"][src_slot]["links"]
        assert nodes[src]["outputs"][src_slot]["type"] == type_
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
        assert nodes[dst]["inputs"][dst_slot]["type"] == type_
    for node in wf["nodes"]:
        for inp in node["inputs"]:
            assert inp["link"] in links, (node["type"], inp["name"])
        for slot, out in enumerate(node["outputs"]):
            assert out["slot_index"] == slot
            for link_id in out["links"]:
                assert links[link_id][1] == node["id"]
    return nodes


def _upstream(api: dict, node_id: str, name: str) -> dict:
    src, _slot = api[node_id]["inputs"][name]
    return api[src]


def test_ui_and_api_workflows_wire_turbo_and_the_lora():
    from training.lora.comfyui import WorkflowOptions, api_workflow, ui_workflow

    options = WorkflowOptions("leyla.safetensors", strength=0.7, prompt="a photo of l3yla")
    ui = json.loads(json.dumps(ui_workflow(options)))  # plain JSON
    nodes = check_ui_graph(ui)
    by_type = {n["type"]: n for n in nodes.values()}
    assert set(by_type) == REQUIRED
    assert by_type["UNETLoader"]["widgets_values"][0] == "z_image_turbo_bf16.safetensors"
    assert by_type["CLIPLoader"]["widgets_values"][:2] == ["qwen_3_4b.safetensors", "lumina2"]
    assert by_type["VAELoader"]["widgets_values"] == ["ae.safetensors"]
    assert by_type["LoraLoaderModelOnly"]["widgets_values"] == ["leyla.safetensors", 0.7]
    assert by_type["ModelSamplingAuraFlow"]["widgets_values"] == [3.0]
    seed, control, steps, cfg, sampler, scheduler, denoise = by_type["KSampler"]["widgets_values"]
    assert (steps, cfg, scheduler, denoise) == (8, 1.0, "simple", 1.0)
    assert by_type["CLIPTextEncode"]["widgets_values"] == ["a photo of l3yla"]

    api = api_workflow(options)
    assert {n["class_type"] for n in api.values()} == REQUIRED
    for node_id, node in api.items():
        for value in node["inputs"].values():
            if isinstance(value, list):  # a link: [source id, output slot]
                assert value[0] in api and value[0] != node_id
    sampler_id = next(k for k, n in api.items() if n["class_type"] == "KSampler")
    chain = _upstream(api, sampler_id, "model")
    assert chain["class_type"] == "ModelSamplingAuraFlow" and chain["inputs"]["shift"] == 3.0
    lora = api[chain["inputs"]["model"][0]]
    assert lora["class_type"] == "LoraLoaderModelOnly"
    assert lora["inputs"]["strength_model"] == 0.7
    assert api[lora["inputs"]["model"][0]]["class_type"] == "UNETLoader"
    negative = _upstream(api, sampler_id, "negative")
    assert negative["class_type"] == "ConditioningZeroOut"
    assert _upstream(api, sampler_id, "positive")["class_type"] == "CLIPTextEncode"
    assert _upstream(api, sampler_id, "latent_image")["class_type"] == "EmptySD3LatentImage"
    assert api[sampler_id]["inputs"]["cfg"] == 1.0


def _fake_comfy(root):
    for sub in ("diffusion_models", "text_encoders", "vae", "loras"):
        (root / "models" / sub).mkdir(parents=True)
    (root / "models" / "diffusion_models" / "Z-Image-Turbo-fp8.safetensors").write_bytes(b"x")
    (root / "models" / "text_encoders" / "qwen_3_4b.safetensors").write_bytes(b"x")
    return root


def test_comfyui_folder_models_and_send(tmp_path):
    from training.lora.comfyui import WorkflowOptions, find_comfyui, send_to_comfyui
    from training.lora.model import LoraError

    comfy = find_comfyui(_fake_comfy(tmp_path / "ComfyUI"))
    assert comfy.unet == "Z-Image-Turbo-fp8.safetensors"  # the user's own file
    assert comfy.clip == "qwen_3_4b.safetensors"
    assert comfy.vae == "ae.safetensors" and comfy.found == ("unet", "clip")

    lora = tmp_path / "leyla.safetensors"
    lora.write_bytes(b"lora bytes")
    sent = send_to_comfyui(lora, comfy, WorkflowOptions("ignored"))
    assert sent.lora.read_bytes() == b"lora bytes" and sent.copied
    assert sent.workflow == tmp_path / "ComfyUI/user/default/workflows/leyla.json"
    wf = json.loads(sent.workflow.read_text())
    check_ui_graph(wf)
    names = {n["type"]: n["widgets_values"][0] for n in wf["nodes"] if n["widgets_values"]}
    assert names["UNETLoader"] == "Z-Image-Turbo-fp8.safetensors"
    assert names["LoraLoaderModelOnly"] == "leyla.safetensors"
    assert any("vae" in note for note in sent.notes)

    again = send_to_comfyui(lora, comfy, WorkflowOptions("x"))  # same file: nothing copied
    assert not again.copied and again.workflow == sent.workflow
    sent.workflow.write_text('{"edited": "by the user"}')
    third = send_to_comfyui(lora, comfy, WorkflowOptions("x", strength=0.5))
    assert third.workflow.name == "leyla (2).json"
    assert json.loads(sent.workflow.read_text()) == {"edited": "by the user"}
    lora.write_bytes(b"another training run")
    with pytest.raises(LoraError, match="different file"):
        send_to_comfyui(lora, comfy, WorkflowOptions("x"))
    assert sent.lora.read_bytes() == b"lora bytes"
    with pytest.raises(LoraError, match="models folder"):
        find_comfyui(tmp_path)
