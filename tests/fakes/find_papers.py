"""A small hand-written paper collection for the search, related and ranking tests.

Four topics (diffusion video generation, retrieval-augmented question answering, speech
recognition, robot grasping), five papers each, written so the expected answers are obvious to a
reader: a search, a Related list or a personal ranking that mixes topics up is wrong. Dates,
categories and authors vary so every filter has something to keep and something to drop.
"""

from __future__ import annotations

import datetime as dt

from digest.models import Paper

_TOPICS = {
    "video": (
        "cs.CV",
        ["Ana Video", "Ben Frames"],
        "diffusion model video generation temporal consistency frames denoising latent video diffusion",
        ["Latent Video Diffusion for Long Clips", "Temporal Attention in Video Diffusion Models",
         "Consistent Frames: Denoising Video Generation", "Fast Video Diffusion Sampling",
         "Video Generation with Motion-Aware Diffusion"],
    ),
    "rag": (
        "cs.CL",
        ["Carla Retriever", "Dan Passages"],
        "retrieval augmented generation question answering passages retriever language model knowledge",
        ["Retrieval-Augmented Generation for Open-Domain Question Answering", "Dense Passage Retrieval Revisited",
         "Knowledge-Grounded Answers with Retrieval", "When Does Retrieval Help Language Models",
         "Chain of Thought Meets Retrieval-Augmented Generation"],
    ),
    "speech": (
        "eess.AS",
        ["Eva Phoneme", "Finn Acoustic"],
        "speech recognition acoustic model phoneme transcription audio encoder word error rate",
        ["End-to-End Speech Recognition with Conformers", "Phoneme-Level Acoustic Modelling",
         "Low-Resource Speech Transcription", "Streaming Speech Recognition on Device",
         "A Survey of Speech Recognition Benchmarks"],
    ),
    "robot": (
        "cs.RO",
        ["Gus Gripper", "Hana Grasp"],
        "robot grasping manipulation gripper policy objects tactile reinforcement learning",
        ["Learning Robot Grasping from Tactile Feedback", "Dexterous Manipulation Policies for Grippers",
         "Grasping Unknown Objects with Reinforcement Learning", "Sim-to-Real Robot Manipulation",
         "Tactile Sensing for Robot Grasp Stability"],
    ),
}


def topical_papers() -> list[Paper]:
    """20 papers; ids are 250<topic>.00<index>0<topic> (topic 1-4, index 0-4)."""
    papers = []
    for t, (topic, (category, authors, vocabulary, titles)) in enumerate(_TOPICS.items(), start=1):
        for i, title in enumerate(titles):
            words = vocabulary.split()
            abstract = (f"We study {' '.join(words[i:] + words[:i])}. Our {topic} method improves "
                        f"{words[(i + 2) % len(words)]} and {words[(i + 5) % len(words)]} on standard benchmarks.")
            papers.append(Paper(
                id=f"250{t}.00{i}0{t}",
                title=title,
                authors=(authors[i % 2], f"Helper{t}{i} Person", *(("José Núñez",) if topic == "rag" and i == 0 else ())),
                abstract=abstract,
                categories=(category, "cs.AI") if i % 2 else (category,),
                primary_category=category,
                published=dt.date(2025, t, 10 + i),
            ))
    return papers


def by_topic(papers: list[Paper], topic_number: int) -> list[Paper]:
    return [p for p in papers if p.id.startswith(f"250{topic_number}.")]
